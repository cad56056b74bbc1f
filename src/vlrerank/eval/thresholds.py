"""Threshold advice: above which calibrated probability is a result relevant?

Two rules, each on the precision-recall curve of labelled pairs (``sklearn.metrics``): the
threshold with the best F1, and the lowest threshold whose precision reaches a target (so it keeps
the most recall). Each comes with a percentile bootstrap CI over pairs and the precision and
recall it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import CONFIDENCE

RESAMPLES = 500


@dataclass(frozen=True)
class Threshold:
    rule: str  # "max-f1" or "precision>=0.9"
    value: float
    ci_low: float
    ci_high: float
    precision: float
    recall: float
    f1: float


def _choose(
    labels: np.ndarray, probabilities: np.ndarray, rule: str, target: float
) -> tuple[float, float, float] | None:
    """(threshold, precision, recall) under ``rule``, or None when no threshold satisfies it."""
    from sklearn.metrics import precision_recall_curve

    if labels.sum() == 0:
        return None
    precision, recall, cuts = precision_recall_curve(labels, probabilities)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    if rule == "max-f1":
        f1 = np.where(
            precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0
        )
        best = int(np.argmax(f1))
    else:
        reaching = np.flatnonzero(precision >= target)
        if reaching.size == 0:
            return None
        best = int(reaching[np.argmax(recall[reaching])])
    return float(cuts[best]), float(precision[best]), float(recall[best])


def advise(
    labels: np.ndarray, probabilities: np.ndarray, rule: str, target: float = 0.9, seed: int = 0
) -> Threshold | None:
    """The threshold under ``rule`` (``max-f1`` or ``target-precision``) with its bootstrap CI;
    None when the data never reach the target precision."""
    chosen = _choose(labels, probabilities, rule, target)
    if chosen is None:
        return None
    value, precision, recall = chosen
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(RESAMPLES):
        index = rng.integers(0, len(labels), len(labels))
        again = _choose(labels[index], probabilities[index], rule, target)
        if again is not None:
            draws.append(again[0])
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail]) if draws else (value, value)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    name = "max-f1" if rule == "max-f1" else f"precision>={target:g}"
    return Threshold(name, value, float(low), float(high), precision, recall, f1)
