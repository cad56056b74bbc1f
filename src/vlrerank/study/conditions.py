"""Expand a spec over a manifest into conditions, each with a stable key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..preprocess.choices import PreprocessConfig
from .spec import StudyItem, StudySpec


@dataclass(frozen=True)
class Condition:
    key: str
    item: int  # index into the manifest's items
    size: tuple[int, int] | None
    interpolation: str
    mode: str
    blur: float
    repeat: int
    budget: int | None = None  # a pixel budget (the model-side max_pixels) instead of a size

    @property
    def size_label(self) -> str:
        if self.budget is not None:
            return f"{self.budget}px"
        return f"{self.size[0]}x{self.size[1]}" if self.size else "native"

    def preprocess(self) -> PreprocessConfig:
        if self.size is None:
            return PreprocessConfig(blur_sigma=self.blur, max_pixels=self.budget)
        return PreprocessConfig(
            size=self.size,
            mode=self.mode,  # type: ignore[arg-type]
            interpolation=self.interpolation,  # type: ignore[arg-type]
            blur_sigma=self.blur,
        )


def file_digest(path: Path) -> str:
    """The file's digest; a PDF page (``file.pdf#page=2``) is the file's digest and the page."""
    name, _, fragment = str(path).partition("#")
    digest = hashlib.sha256(Path(name).read_bytes()).hexdigest()
    return f"{digest}#{fragment}" if fragment else digest


def expand(spec: StudySpec, items: list[StudyItem]) -> list[Condition]:
    """Every item x size x interpolation x mode x blur x repeat. Keys hash the image bytes, not its path."""
    digests = {item.image: file_digest(item.image) for item in items}
    conditions = []
    for index, item in enumerate(items):
        for size in spec.sizes:
            # A native size is not resampled by us: interpolation and mode do not apply there.
            interpolations = spec.interpolations if size else spec.interpolations[:1]
            modes = spec.modes if size else spec.modes[:1]
            for interpolation in interpolations:
                for mode in modes:
                    for blur in spec.blur_sigmas:
                        for repeat in range(spec.repeats):
                            identity = {
                                "image": digests[item.image],
                                "query": item.query,
                                "text": item.text,
                                "size": list(size) if size else None,
                                "interpolation": interpolation,
                                "mode": mode,
                                "blur": blur,
                                "repeat": repeat,
                            }
                            key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[
                                :32
                            ]
                            conditions.append(Condition(key, index, size, interpolation, mode, blur, repeat))
        conditions += _budget_conditions(spec, item, index, digests[item.image])
    return conditions


def _budget_conditions(spec: StudySpec, item: StudyItem, index: int, digest: str) -> list[Condition]:
    """Native-size conditions under each pixel budget (what a PDF page is rendered to)."""
    out = []
    for budget in spec.pixel_budgets:
        for blur in spec.blur_sigmas:
            for repeat in range(spec.repeats):
                identity = {"image": digest, "query": item.query, "text": item.text, "budget": budget,
                            "blur": blur, "repeat": repeat}  # fmt: skip
                key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
                out.append(
                    Condition(key, index, None, spec.interpolations[0], "native", blur, repeat, budget)
                )
    return out


def fingerprint(spec: StudySpec, items: list[StudyItem], version: str) -> str:
    """Changes whenever a stored result could: model, instruction, explain, manifest, package version.

    The swept values (sizes, interpolations, modes, blurs, repeats) are left out on purpose: each
    condition's key already names them, so a grid that grows keeps every row it shares with the old
    one and only the new conditions are scored.
    """
    manifest = [[file_digest(i.image), i.category, i.query, i.relevant, i.group, i.text] for i in items]
    setup = {k: v for k, v in spec.canonical().items() if k in ("model", "instruction", "explain")}
    blob = json.dumps({"setup": setup, "manifest": manifest, "version": version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()
