"""Calibrated probabilities: load a calibrator file and apply it to rankings.

A calibrator maps the model's yes-minus-no logit to a probability of relevance that was fitted on
labelled pairs (``vlrerank eval`` writes one). It is a small JSON file: the method (``platt``: a
logistic curve on the logit; ``isotonic``: a non-decreasing step curve, interpolated), its
parameters, the setup it was fitted under (model, instruction, preprocessing) and, optionally, a
recommended threshold. Applying it needs only numpy; fitting lives in :mod:`vlrerank.eval.calibrate`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .preprocess.config import PreprocessConfig
from .ranking import RankedResults

logger = logging.getLogger(__name__)

FORMAT = "vlrerank-calibrator"
VERSION = 1
METHODS = ("platt", "isotonic")
_WARNED: set[tuple[str, str, str]] = set()


def describe_preprocess(preprocess: Any) -> str | None:
    """``default`` for no preprocessing, a config's settings as compact JSON, ``None`` when
    documents were prepared differently from each other (nothing single to compare)."""
    if isinstance(preprocess, (list, tuple)):
        described = {describe_preprocess(p) for p in preprocess}
        return described.pop() if len(described) == 1 else None
    if preprocess is None or (isinstance(preprocess, PreprocessConfig) and preprocess.is_reference):
        return "default"
    if isinstance(preprocess, PreprocessConfig):
        return json.dumps(preprocess.to_dict(), sort_keys=True, separators=(",", ":"))
    return None


@dataclass(frozen=True)
class Calibrator:
    """A fitted logit -> probability map and the setup it belongs to.

    Attributes:
        method: ``platt`` (``p = sigmoid(slope * logit + intercept)``) or ``isotonic``
            (piecewise-linear through ``points``, flat beyond the ends).
        params: ``{"slope", "intercept"}`` for Platt; ``{"x": [...], "y": [...]}`` for isotonic.
        model: the model name the logits came from.
        instruction: the instruction they were scored with.
        preprocess: the preprocessing setup, as text (``default`` when none was given).
        threshold: the probability a result must reach to count as relevant, when one was chosen.
        threshold_rule: how ``threshold`` was chosen (``max-f1``, ``precision>=0.9``).
        report: what the fit measured (log-loss, ECE, thresholds with CIs); informational.
    """

    method: str
    params: dict[str, Any]
    model: str
    instruction: str
    preprocess: str = "default"
    threshold: float | None = None
    threshold_rule: str | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities for an array of logits."""
        x = np.asarray(logits, dtype=float)
        if self.method == "platt":
            z = self.params["slope"] * x + self.params["intercept"]
            return np.asarray(1.0 / (1.0 + np.exp(-z)))
        return np.interp(x, self.params["x"], self.params["y"])

    def probability(self, logit: float) -> float:
        return float(self.probabilities([logit])[0])

    def apply(self, ranked: RankedResults, preprocess: Any = None) -> RankedResults:
        """``ranked`` with ``probability`` (and ``below_threshold`` when a threshold is set) filled.

        A different instruction or preprocessing than the fit's is logged as a warning (once each,
        not per request): the probabilities may not hold for it."""
        used = describe_preprocess(preprocess)
        for what, fitted, now in (("instruction", self.instruction, ranked.instruction),
                                  ("preprocessing", self.preprocess, used)):  # fmt: skip
            if now is not None and now != fitted and (what, fitted, now) not in _WARNED:
                _WARNED.add((what, fitted, now))
                logger.warning(
                    "calibrator fitted with %s %r, applied with %r: its probabilities may not hold",
                    what,
                    fitted,
                    now,
                )
        logits = [r.logit if r.logit is not None else _logit(r.score) for r in ranked.results]
        probabilities = self.probabilities(logits) if logits else np.array([])
        results = tuple(
            dataclasses.replace(
                r,
                probability=float(p),
                below_threshold=None if self.threshold is None else bool(p < self.threshold),
            )
            for r, p in zip(ranked.results, probabilities, strict=True)
        )
        return dataclasses.replace(ranked, results=results, threshold=self.threshold)

    def check_setup(self, *, model: str) -> None:
        """Refuse a calibrator fitted on another model."""
        if Path(model).name != Path(self.model).name:
            raise ConfigError(
                f"the calibrator was fitted on model {self.model!r}, not {model!r}: its probabilities "
                "do not hold for another model; fit one with `vlrerank eval run ... --model "
                f"{model}`"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **dataclasses.asdict(self)}

    def save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibrator:
        """Read a calibrator file; a missing, foreign or malformed file is a :class:`ConfigError`."""
        source = Path(path)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read calibrator {source}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not a calibrator file (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f'{source}: not a calibrator file (no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise ConfigError(
                f"{source}: calibrator version {data.get('version')!r}; this vlrerank reads version "
                f"{VERSION}: fit it again with `vlrerank eval`"
            )
        try:
            calibrator = cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})
            _validate(calibrator)
        except (TypeError, KeyError, ValueError) as exc:
            raise ConfigError(f"{source}: malformed calibrator ({exc})") from None
        return calibrator


def _validate(c: Calibrator) -> None:
    if c.method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {c.method!r}")
    if c.method == "platt":
        float(c.params["slope"]), float(c.params["intercept"])
    elif len(c.params["x"]) != len(c.params["y"]) or len(c.params["x"]) < 1:
        raise ValueError("isotonic x and y must be equally long, non-empty lists")
    if c.threshold is not None and not 0.0 <= float(c.threshold) <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {c.threshold!r}")


def _logit(score: float) -> float:
    score = min(max(score, 1e-12), 1 - 1e-12)
    return math.log(score / (1 - score))
