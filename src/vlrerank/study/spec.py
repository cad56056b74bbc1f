"""The study's inputs: a spec (YAML or TOML, every field also a CLI flag) and a manifest of images.

A manifest is CSV or JSONL with ``image`` (an image, a PDF, or a PDF's page: ``file.pdf#page=2``),
``category``, ``query`` and optional ``relevant``
(0/1 or a graded label), ``group`` (rows ranked together) and ``text`` (a caption that goes with
the image), or a folder with one sub-folder of images per category and a ``queries.csv``
(``category,query``). Every validation error names the file, the line and the field.
"""

from __future__ import annotations

import csv
import json
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..preprocess.choices import INTERPOLATIONS, RESIZE_MODES, size_from_text

DEFAULT_SIZES = ((320, 240), (640, 480), (800, 600), (1024, 768), (1280, 960), (1600, 1200), (2048, 1536))
MIN_BUDGET = 4 * 32 * 32  # the model's own min_pixels
IMAGE_SUFFIXES = {".pdf", ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


@dataclass(frozen=True, kw_only=True)
class StudySpec:
    """What to sweep. ``sizes`` entries are (width, height), or ``None`` for the native size."""

    manifest: Path
    sizes: tuple[tuple[int, int] | None, ...] = DEFAULT_SIZES
    interpolations: tuple[str, ...] = ("bicubic", "nearest")
    modes: tuple[str, ...] = ("stretch",)
    blur_sigmas: tuple[float, ...] = (0.0,)
    pixel_budgets: tuple[int, ...] = ()  # extra conditions: native size under each max_pixels
    repeats: int = 1
    instruction: str | None = None
    model: str = "tiny-random"
    device: str = "auto"
    batch_documents: int = 16
    explain: bool = False

    def canonical(self) -> dict[str, Any]:
        """Everything that changes results, as plain data (for the fingerprint)."""
        return {
            "sizes": [list(s) if s else "native" for s in self.sizes],
            "interpolations": list(self.interpolations),
            "modes": list(self.modes),
            "blur_sigmas": list(self.blur_sigmas),
            **({"pixel_budgets": list(self.pixel_budgets)} if self.pixel_budgets else {}),
            "repeats": self.repeats,
            "instruction": self.instruction,
            "model": self.model,
            "explain": self.explain,
        }


@dataclass(frozen=True)
class StudyItem:
    """One (query, image) pair of the manifest."""

    image: Path
    category: str
    query: str
    relevant: float | None = None
    group: str | None = None
    text: str | None = None
    line: int = 0


def parse_size(value: Any, where: str) -> tuple[int, int] | None:
    if value in ("native", None):
        return None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        width, height = value
    else:
        try:
            width, height = size_from_text(str(value))
        except ValueError:
            raise ConfigError(f"{where}: expected WxH like 1024x768 or 'native', got {value!r}") from None
    if not (
        isinstance(width, int) and isinstance(height, int) and 0 < width <= 16384 and 0 < height <= 16384
    ):
        raise ConfigError(f"{where}: sizes must be 1..16384 pixels, got {value!r}")
    return width, height


def _as_tuple(value: Any, where: str) -> tuple[Any, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise ConfigError(f"{where}: expected a list, got {value!r}")


def build_spec(data: dict[str, Any], *, base_dir: Path, source: str = "spec") -> StudySpec:
    """Validate plain data (from a file and/or CLI flags) into a :class:`StudySpec`."""
    names = {f.name for f in fields(StudySpec)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
    if "manifest" not in data:
        raise ConfigError(f"{source}: 'manifest' is required (a CSV/JSONL file or a folder per category)")
    values: dict[str, Any] = {"manifest": (base_dir / str(data["manifest"])).resolve()}
    if "sizes" in data:
        sizes = _as_tuple(data["sizes"], f"{source}: sizes")
        values["sizes"] = tuple(parse_size(s, f"{source}: sizes[{i}]") for i, s in enumerate(sizes))
    for key, allowed in (("interpolations", INTERPOLATIONS), ("modes", RESIZE_MODES)):
        if key in data:
            chosen = _as_tuple(data[key], f"{source}: {key}")
            for i, value in enumerate(chosen):
                if value not in allowed:
                    raise ConfigError(f"{source}: {key}[{i}]: {value!r} is not one of {', '.join(allowed)}")
            values[key] = chosen
    if "blur_sigmas" in data:
        try:
            values["blur_sigmas"] = tuple(
                float(v) for v in _as_tuple(data["blur_sigmas"], f"{source}: blur_sigmas")
            )
        except ValueError:
            raise ConfigError(f"{source}: blur_sigmas must be numbers") from None
    if "pixel_budgets" in data:
        try:
            budgets = tuple(int(v) for v in _as_tuple(data["pixel_budgets"], f"{source}: pixel_budgets"))
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: pixel_budgets must be integers (pixels)") from None
        if any(b < MIN_BUDGET for b in budgets):
            raise ConfigError(f"{source}: pixel_budgets must be at least {MIN_BUDGET} pixels")
        values["pixel_budgets"] = budgets
    for key in ("repeats", "batch_documents"):
        if key in data:
            try:
                number = int(data[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: {key} must be a positive integer, got {data[key]!r}") from None
            if number < 1:
                raise ConfigError(f"{source}: {key} must be a positive integer, got {data[key]!r}")
            values[key] = number
    for key in ("instruction", "model", "device"):
        if key in data and data[key] is not None:
            values[key] = str(data[key])
    if "explain" in data:
        values["explain"] = str(data["explain"]).lower() in ("1", "true", "yes", "on")
    spec = StudySpec(**values)
    if "native" in spec.modes and any(s is not None for s in spec.sizes):
        raise ConfigError(f"{source}: mode 'native' ignores sizes; use fit, crop or stretch with sizes")
    return spec


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None) -> StudySpec:
    """Read a YAML or TOML spec; ``overrides`` (CLI flags) win over the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no study spec at {path}; `vlrerank study sample DIR` writes one to start from")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except ImportError:
        raise ConfigError(
            "YAML specs need PyYAML: pip install 'vlrerank[study]' (or use a .toml spec)"
        ) from None
    except Exception as exc:  # both parsers raise their own error types; all mean "not valid"
        raise ConfigError(f"{path}: not a valid spec file: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the spec must be a mapping of keys to values")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return build_spec(data, base_dir=path.parent, source=str(path))


def _item(row: dict[str, Any], base: Path, where: str, line: int) -> StudyItem:
    for key in ("image", "category", "query"):
        if not str(row.get(key) or "").strip():
            raise InputError(f"'{key}' is required", field=f"{where}:{line}.{key}")
    name, hash_, fragment = str(row["image"]).partition("#")  # a PDF page: file.pdf#page=2
    image = (base / name).resolve()
    if not image.is_file():
        raise InputError(f"no such image file: {row['image']}", field=f"{where}:{line}.image")
    image = Path(str(image) + hash_ + fragment)
    relevant = row.get("relevant")
    if relevant in ("", None):
        label = None
    else:
        try:
            label = float(relevant)
        except (TypeError, ValueError):
            raise InputError(
                f"'relevant' must be a number, got {relevant!r}", field=f"{where}:{line}.relevant"
            ) from None
    group = str(row["group"]) if row.get("group") not in (None, "") else None
    text = str(row["text"]) if row.get("text") not in (None, "") else None
    return StudyItem(image, str(row["category"]), str(row["query"]), label, group, text, line)


def load_manifest(path: str | Path) -> list[StudyItem]:
    path = Path(path)
    if path.is_dir():
        return _load_folder(path)
    if not path.is_file():
        raise InputError(f"no manifest at {path}", field="manifest")
    if path.suffix == ".jsonl":
        items = []
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", field=f"{path.name}:{line}") from None
            if not isinstance(row, dict):
                raise InputError("each line must be a JSON object", field=f"{path.name}:{line}")
            items.append(_item(row, path.parent, path.name, line))
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"image", "category", "query"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(f"missing column(s) {', '.join(sorted(missing))}", field=f"{path.name}:1")
            items = [_item(row, path.parent, path.name, line) for line, row in enumerate(reader, start=2)]
    if not items:
        raise InputError("the manifest has no rows", field=path.name)
    return items


def _load_folder(folder: Path) -> list[StudyItem]:
    queries_file = folder / "queries.csv"
    if not queries_file.is_file():
        raise InputError("a folder manifest needs queries.csv with category,query rows", field=str(folder))
    items: list[StudyItem] = []
    with queries_file.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            category, query = (row.get("category") or "").strip(), (row.get("query") or "").strip()
            if not category or not query:
                raise InputError("category and query are required", field=f"queries.csv:{line}")
            images = sorted(p for p in (folder / category).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise InputError(f"no images in folder {category}/", field=f"queries.csv:{line}.category")
            items += [
                StudyItem(p.resolve(), category, query, None, f"{category}-{line}", None, line)
                for p in images
            ]
    return items
