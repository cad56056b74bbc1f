"""Calibrated probabilities: load a calibrator file and apply it to rankings.

A calibrator maps the model's yes-minus-no logit to a probability of relevance that was fitted on
labelled pairs (``vlrerank eval`` writes one). It is a small JSON file: the method (``platt``: a
logistic curve on the logit; ``isotonic``: a non-decreasing step curve, interpolated), its
parameters, the setup it was fitted under (model, instruction, preprocessing) and, optionally, a
recommended threshold. Applying it needs only numpy; fitting lives in :mod:`vlrerank.eval.calibrate`.

Every calibrator, read from a file or built in code, passes one schema (:func:`validate`): finite
numbers, probabilities in [0, 1], isotonic points strictly ascending in x and non-decreasing in y,
a known version. A Platt slope below zero (the probability falling as the score rises) is refused
too: it means the labels were inverted, unless the calibrator says ``"inverted": true`` (written
only by ``vlrerank eval run --allow-inverted``). Every face loads through :func:`load_calibrator`,
which also refuses a calibrator fitted on another model.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError
from .preprocess.choices import PreprocessConfig
from .ranking import RankedResults

logger = logging.getLogger(__name__)

FORMAT = "vlrerank-calibrator"
VERSION = 1
_WARNED: set[tuple[str, str, str]] = set()

Finite = Annotated[float, Field(allow_inf_nan=False)]
Probability = Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=1.0)]


class _Platt(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    slope: Finite
    intercept: Finite


class _Isotonic(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    x: list[Finite] = Field(min_length=1)
    y: list[Probability] = Field(min_length=1)

    @model_validator(mode="after")
    def _monotone(self) -> _Isotonic:
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} points and y {len(self.y)}: they must pair up")
        for i in range(1, len(self.x)):
            if not self.x[i - 1] < self.x[i]:
                raise ValueError(f"x must be strictly ascending: x[{i}] = {self.x[i]} after {self.x[i - 1]}")
            if not self.y[i - 1] <= self.y[i]:
                raise ValueError(f"y must not decrease: y[{i}] = {self.y[i]} after {self.y[i - 1]}")
        return self


class _File(BaseModel):
    """The calibrator file as written by :meth:`Calibrator.save` (``report`` is free-form)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    format: Literal["vlrerank-calibrator"]
    version: Literal[1]
    method: Literal["platt", "isotonic"]
    params: dict[str, Any]
    model: str = Field(min_length=1)
    instruction: str
    preprocess: str = "default"
    threshold: Probability | None = None
    threshold_rule: str | None = None
    report: dict[str, Any] = Field(default_factory=dict)
    random_weights: bool | None = None
    inverted: bool = False


def _described(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in (prefix, *error["loc"]) if p != "") or "file"
        message = str(error["msg"]).removeprefix("Value error, ")
        got = error.get("input")
        shown = "" if isinstance(got, (dict, list)) or error["type"] == "missing" else f" (got {got!r})"
        parts.append(f"{where}: {message}{shown}")
    return "; ".join(parts)


def validate(data: Any) -> dict[str, Any]:
    """The calibrator fields of ``data`` (a parsed calibrator file), validated.

    Raises:
        ValueError: naming the first bad field(s), e.g. ``params.slope: Input should be a finite
            number (got nan)``.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f'not a calibrator file (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ValueError(
            f"calibrator version {data.get('version')!r}; this vlrerank reads version {VERSION}: fit "
            "it again with `vlrerank eval`"
        )
    try:
        checked = _File.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_described(exc)) from None
    schema = _Platt if checked.method == "platt" else _Isotonic
    try:
        params = schema.model_validate(checked.params).model_dump()
    except ValidationError as exc:
        raise ValueError(_described(exc, "params")) from None
    if checked.method == "platt" and params["slope"] < 0 and not checked.inverted:
        raise ValueError(
            f"params.slope: {params['slope']} is negative: the probability would fall as the score "
            "rises, which means the labels the calibrator was fitted on were inverted; fit it again "
            'on corrected labels (or, to use it anyway, set "inverted": true; `vlrerank eval run '
            "--allow-inverted` writes that)"
        )
    fields = checked.model_dump(exclude={"format", "version"})
    return {**fields, "params": params}


def curve(method: str, params: dict[str, Any], logits: Any) -> np.ndarray:
    """The calibration curve itself, without any check (fitting uses it on intermediate fits)."""
    x = np.asarray(logits, dtype=float)
    if method == "platt":
        with np.errstate(over="ignore"):  # exp overflows to inf for very large |z|: p is then 0 or 1
            z = params["slope"] * x + params["intercept"]
            return np.asarray(1.0 / (1.0 + np.exp(-z)))
    return np.interp(x, params["x"], params["y"])


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
        random_weights: True when the logits came from a checkpoint with random weights (the
            calibrator is then meaningless), None when unknown.
        inverted: True only when an inverted fit (negative Platt slope) was kept on purpose.

    Raises:
        ConfigError: at construction, when a field breaks the schema (see :func:`validate`).
    """

    method: str
    params: dict[str, Any]
    model: str
    instruction: str
    preprocess: str = "default"
    threshold: float | None = None
    threshold_rule: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    random_weights: bool | None = None
    inverted: bool = False

    def __post_init__(self) -> None:
        try:
            checked = validate(self.to_dict())
        except ValueError as exc:
            raise ConfigError(f"invalid calibrator: {exc}") from None
        object.__setattr__(self, "params", checked["params"])  # as floats, whatever came in

    def probabilities(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities for an array of logits."""
        return curve(self.method, self.params, logits)

    def probability(self, logit: float) -> float:
        return float(self.probabilities([logit])[0])

    def apply(self, ranked: RankedResults, preprocess: Any = None) -> RankedResults:
        """``ranked`` with ``probability`` (and ``below_threshold`` when a threshold is set) filled.

        A different instruction or preprocessing than the fit's is logged as a warning (once each,
        not per request): the probabilities may not hold for it."""
        for key, message in self.mismatches(ranked.instruction, preprocess):
            if key not in _WARNED:
                _WARNED.add(key)
                logger.warning("%s", message)
        logits = [r.logit if r.logit is not None else _logit(r.score) for r in ranked.results]
        probabilities = self.probabilities(logits) if logits else np.array([])
        results = tuple(
            dataclasses.replace(
                r,
                # A NaN logit (nothing a valid calibrator makes) gives no probability, never NaN.
                probability=float(p) if math.isfinite(p) else None,
                below_threshold=None
                if self.threshold is None or not math.isfinite(p)
                else bool(p < self.threshold),
            )
            for r, p in zip(ranked.results, probabilities, strict=True)
        )
        return dataclasses.replace(
            ranked, results=results, threshold=self.threshold, calibrated_for=self.instruction
        )

    def mismatches(self, instruction: str, preprocess: Any = None) -> list[tuple[tuple[str, str, str], str]]:
        """``(key, message)`` for each way this use differs from the fit (instruction, preprocessing);
        faces show each message once per distinct ``key``."""
        found = []
        used = describe_preprocess(preprocess)
        for what, fitted, now in (("instruction", self.instruction, instruction),
                                  ("preprocessing", self.preprocess, used)):  # fmt: skip
            if now is not None and now != fitted:
                message = (
                    f"calibrator fitted with {what} {fitted!r}, applied with {now!r}: its "
                    "probabilities may not hold"
                )
                found.append(((what, fitted, now), message))
        return found

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
        text = json.dumps(_finite(self.to_dict()), indent=2, allow_nan=False)
        target.write_text(text + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibrator:
        """Read and validate a calibrator file; a missing, foreign or malformed file is a
        :class:`ConfigError` naming the file and the field."""
        source = Path(path)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read calibrator {source}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not a calibrator file (not UTF-8 text)") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not a calibrator file (line {exc.lineno}: {exc.msg})") from None
        try:
            return cls(**validate(data))
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None


def load_calibrator(
    calibration: str | os.PathLike[str] | Calibrator, *, model: str | None = None
) -> Calibrator:
    """The one way faces (``Reranker``, ``rank``, ``serve``, replicas) take a calibrator: read and
    validated (a path) or as built (already validated), and refused when fitted on another
    ``model``. An inverted calibrator kept on purpose is logged, since its ranking of
    probabilities runs against the scores."""
    calibrator = calibration if isinstance(calibration, Calibrator) else Calibrator.load(calibration)
    if model is not None:
        try:
            calibrator.check_setup(model=model)
        except ConfigError as exc:
            where = "" if isinstance(calibration, Calibrator) else f"{calibration}: "
            raise ConfigError(f"{where}model: {exc}") from None
    if calibrator.inverted:
        logger.warning("%s", INVERTED_NOTE)
    return calibrator


def calibration_warnings(
    calibrator: Calibrator | None, instruction: str, preprocess: Any = None
) -> list[str]:
    """What a face must tell the person about this use of ``calibrator``: another instruction or
    preprocessing than the fit's, or an inverted calibrator kept on purpose."""
    if calibrator is None:
        return []
    found = [message for _, message in calibrator.mismatches(instruction, preprocess)]
    return [*found, INVERTED_NOTE] if calibrator.inverted else found


INVERTED_NOTE = (
    "the calibrator is INVERTED (fitted on labels where relevance falls as the score rises; kept "
    "with --allow-inverted): check those labels before trusting its probabilities"
)


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as ``None``: JSON has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _logit(score: float) -> float:
    score = min(max(score, 1e-12), 1 - 1e-12)
    return math.log(score / (1 - score))
