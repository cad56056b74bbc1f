"""Fit a calibrator on labelled pairs: Platt or isotonic, chosen by cross-validated log-loss.

Both methods are fitted with scikit-learn on the yes-minus-no logit. Each is scored by the
log-loss of its out-of-fold predictions (every pair predicted by a fit that never saw it); the
lower one wins and is refitted on all pairs. ECE, Brier score and log-loss are reported for the
model's own score and for the out-of-fold calibrated probabilities, with bootstrap CIs, so the
"after" figures are not flattered by fitting and measuring on the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..calibration import Calibrator, curve
from ..errors import ConfigError
from .metrics import CONFIDENCE
from .thresholds import Threshold, advise

BINS = 10
RESAMPLES = 1000


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = BINS) -> float:
    """Mean |observed rate - mean probability| over equal-width bins, weighted by their counts."""
    edges = np.minimum((probabilities * bins).astype(int), bins - 1)
    counts = np.bincount(edges, minlength=bins)
    gaps = np.bincount(edges, weights=labels, minlength=bins) - np.bincount(
        edges, weights=probabilities, minlength=bins
    )
    return float(np.abs(gaps).sum() / max(counts.sum(), 1))


def reliability(labels: np.ndarray, probabilities: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    """Per bin: mean predicted probability, observed rate of relevant pairs, count."""
    edges = np.minimum((probabilities * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        chosen = edges == b
        if chosen.any():
            out.append(
                {
                    "predicted": float(probabilities[chosen].mean()),
                    "observed": float(labels[chosen].mean()),
                    "count": int(chosen.sum()),
                }
            )
    return out


def _scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """ECE, Brier score and log-loss (the latter two as scikit-learn defines them; written out
    in numpy because the bootstrap evaluates them a thousand times)."""
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return {
        "ece": expected_calibration_error(labels, probabilities),
        "brier": float(np.mean((probabilities - labels) ** 2)),
        "log_loss": float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))),
    }


def scores_with_ci(
    labels: np.ndarray, probabilities: np.ndarray, seed: int = 0
) -> dict[str, dict[str, float]]:
    """ECE, Brier and log-loss with percentile bootstrap CIs over pairs."""
    point = _scores(labels, probabilities)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(RESAMPLES):
        index = rng.integers(0, len(labels), len(labels))
        for name, value in _scores(labels[index], probabilities[index]).items():
            draws[name].append(value)
    tail = (1 - CONFIDENCE) / 2 * 100
    return {
        name: {
            "value": value,
            "ci_low": float(np.percentile(draws[name], tail)),
            "ci_high": float(np.percentile(draws[name], 100 - tail)),
        }
        for name, value in point.items()
    }


def _fit(method: str, logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=np.inf).fit(logits.reshape(-1, 1), labels)
        return {"slope": float(model.coef_[0][0]), "intercept": float(model.intercept_[0])}
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(logits, labels)
    # A step at exactly 0 or 1 would claim certainty from a handful of pairs (and make log-loss
    # infinite); half a pair's worth of doubt keeps every probability finite.
    margin = 0.5 / len(labels)
    y = np.clip(model.y_thresholds_, margin, 1 - margin)
    return {"x": [float(v) for v in model.X_thresholds_], "y": [float(v) for v in y]}


def out_of_fold(method: str, logits: np.ndarray, labels: np.ndarray, folds: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    predictions = np.empty(len(labels))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in splitter.split(logits, labels):
        # The bare curve: a fold's fit may come out inverted by chance; only the final calibrator is checked.
        predictions[test] = curve(method, _fit(method, logits[train], labels[train]), logits[test])
    return predictions


@dataclass(frozen=True)
class CalibrationFit:
    calibrator: Calibrator
    cv_log_loss: dict[str, float]
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]
    thresholds: dict[str, Threshold | None]
    reliability_before: list[dict[str, float]]
    reliability_after: list[dict[str, float]]
    pairs: int
    relevant: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["calibrator"] = self.calibrator.to_dict()
        return out


def fit_calibrator(
    logits: Sequence[float],
    labels: Sequence[int],
    *,
    model: str,
    instruction: str,
    preprocess: str = "default",
    target_precision: float = 0.9,
    apply: str = "max-f1",
    folds: int = 5,
    random_weights: bool | None = None,
    allow_inverted: bool = False,
) -> CalibrationFit:
    """Fit, compare and choose; ``apply`` picks the threshold stored for use (``max-f1``,
    ``target-precision`` or ``none``).

    Raises:
        ConfigError: too few labels of either kind, or an inverted fit (the probability of
            relevance falling as the score rises: a Platt slope below zero on all pairs) unless
            ``allow_inverted``, which the calibrator then records as ``inverted``.
    """
    x = np.asarray(logits, dtype=float)
    y = (np.asarray(labels) > 0).astype(int)
    relevant = int(y.sum())
    smallest = min(relevant, len(y) - relevant)
    if smallest < 2:
        raise ConfigError(
            f"calibration needs at least 2 relevant and 2 non-relevant scored pairs; got {relevant} "
            f"relevant of {len(y)}"
        )
    folds = min(folds, smallest)
    overall = _fit("platt", x, y)
    inverted = overall["slope"] < 0
    if inverted and not allow_inverted:
        raise ConfigError(
            f"the fitted calibrator is inverted (Platt slope {overall['slope']:.4g} < 0): on these "
            "labels the probability of relevance falls as the model's score rises. That is most often "
            "a labelling error (grades swapped, or the wrong qrels); check the labels, or keep it "
            "anyway with --allow-inverted (the calibrator file and report then say so)"
        )
    oof = {m: out_of_fold(m, x, y, folds) for m in ("platt", "isotonic")}
    cv = {m: _scores(y, p)["log_loss"] for m, p in oof.items()}
    chosen = min(cv, key=lambda m: (cv[m], m != "platt"))  # ties: the smoother curve
    thresholds = {
        "max-f1": advise(y, oof[chosen], "max-f1"),
        "target-precision": advise(y, oof[chosen], "target-precision", target_precision),
    }
    if apply not in ("max-f1", "target-precision", "none"):
        raise ConfigError(f"the threshold to apply is max-f1, target-precision or none, not {apply!r}")
    applied = thresholds.get(apply)
    before = 1.0 / (1.0 + np.exp(-x))
    measured: dict[str, Any] = {
        "cv_log_loss": cv,
        "before": scores_with_ci(y, before),
        "after": scores_with_ci(y, oof[chosen]),
        "thresholds": thresholds,
        "reliability_before": reliability(y, before),
        "reliability_after": reliability(y, oof[chosen]),
        "pairs": len(y),
        "relevant": relevant,
    }
    calibrator = Calibrator(
        method=chosen,
        params=_fit(chosen, x, y),
        model=model,
        instruction=instruction,
        preprocess=preprocess,
        threshold=None if applied is None else applied.value,
        threshold_rule=None if applied is None else applied.rule,
        report=_plain(measured),
        random_weights=random_weights,
        inverted=inverted,
    )
    return CalibrationFit(calibrator=calibrator, **measured)


def _plain(measured: dict[str, Any]) -> dict[str, Any]:
    """The fit's figures as JSON-ready data for the calibrator file (thresholds as dicts)."""
    thresholds = {rule: None if t is None else asdict(t) for rule, t in measured["thresholds"].items()}
    return {**measured, "thresholds": thresholds}
