"""Calibration and threshold advice against data drawn from known models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from vlrerank import Reranker
from vlrerank.calibration import Calibrator
from vlrerank.errors import ConfigError
from vlrerank.eval.calibrate import expected_calibration_error, fit_calibrator

SLOPE, INTERCEPT = 0.6, -1.2  # the true P(relevant | logit) = sigmoid(0.6 * logit - 1.2)
# Stated tolerance: with 20,000 pairs the maximum-likelihood estimates have standard errors of
# about 0.01 (slope) and 0.02 (intercept); 0.05 and 0.1 are four to five of them.
SLOPE_TOLERANCE, INTERCEPT_TOLERANCE = 0.05, 0.1


def draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.normal(0.0, 3.0, n)
    truth = 1.0 / (1.0 + np.exp(-(SLOPE * logits + INTERCEPT)))
    return logits, (rng.random(n) < truth).astype(int)


def test_platt_recovers_a_known_logistic_model_and_ece_drops() -> None:
    logits, labels = draw(np.random.default_rng(7), 20_000)
    fit = fit_calibrator(logits, labels, model="m", instruction="i")
    assert fit.calibrator.method == "platt"  # the truth is logistic: cross-validation must see it
    assert abs(fit.calibrator.params["slope"] - SLOPE) < SLOPE_TOLERANCE
    assert abs(fit.calibrator.params["intercept"] - INTERCEPT) < INTERCEPT_TOLERANCE
    # The raw sigmoid(logit) is badly calibrated for this truth; the calibrated one is not.
    assert fit.before["ece"]["value"] > 0.1
    assert fit.after["ece"]["value"] < 0.02
    assert fit.after["ece"]["ci_high"] < fit.before["ece"]["ci_low"]
    assert fit.after["log_loss"]["value"] < fit.before["log_loss"]["value"]
    # Fresh data from the same truth: the calibrated probabilities hold out of sample too.
    fresh_logits, fresh_labels = draw(np.random.default_rng(8), 20_000)
    fresh = fit.calibrator.probabilities(fresh_logits)
    assert expected_calibration_error(fresh_labels, fresh) < 0.02


def test_isotonic_wins_when_the_truth_is_a_step() -> None:
    rng = np.random.default_rng(3)
    logits = rng.uniform(-5, 5, 6000)
    truth = np.where(logits > 1.0, 0.95, 0.05)  # no logistic curve fits a cliff
    labels = (rng.random(6000) < truth).astype(int)
    fit = fit_calibrator(logits, labels, model="m", instruction="i")
    assert fit.calibrator.method == "isotonic"
    assert fit.calibrator.probability(3.0) == pytest.approx(0.95, abs=0.03)
    assert fit.calibrator.probability(-3.0) == pytest.approx(0.05, abs=0.03)


def test_thresholds_keep_their_promises() -> None:
    logits, labels = draw(np.random.default_rng(11), 5000)
    fit = fit_calibrator(logits, labels, model="m", instruction="i", target_precision=0.9)
    target = fit.thresholds["target-precision"]
    best = fit.thresholds["max-f1"]
    assert target is not None and best is not None
    probabilities = fit.calibrator.probabilities(logits)
    kept = probabilities >= target.value
    # Precision and recall measured directly on the pairs, by a different route than the advice.
    assert labels[kept].mean() >= 0.88  # fitted on out-of-fold probabilities: close to the target
    assert kept[labels == 1].mean() == pytest.approx(target.recall, abs=0.03)
    assert target.ci_low <= target.value <= target.ci_high
    assert best.value < target.value  # F1 trades precision for recall
    f1_at = {}
    for cut in (best.value, target.value, 0.2, 0.7):
        chosen = probabilities >= cut
        precision = labels[chosen].mean()
        recall = chosen[labels == 1].mean()
        f1_at[cut] = 2 * precision * recall / (precision + recall)
    assert f1_at[best.value] >= max(f1_at.values()) - 0.01


def test_too_few_labels_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="at least 2 relevant"):
        fit_calibrator([0.1, 0.2, 0.3], [0, 0, 1], model="m", instruction="i")


def test_calibrator_file_round_trip_and_bad_files(tmp_path: Path) -> None:
    logits, labels = draw(np.random.default_rng(1), 2000)
    fitted = fit_calibrator(logits, labels, model="m", instruction="i").calibrator
    path = fitted.save(tmp_path / "c.json")
    loaded = Calibrator.load(path)
    assert loaded.probabilities([-2.0, 0.0, 2.0]) == pytest.approx(fitted.probabilities([-2.0, 0.0, 2.0]))
    assert loaded.threshold == fitted.threshold
    data = json.loads(path.read_text())
    data["version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"future\.json.*version 99"):
        Calibrator.load(tmp_path / "future.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"broken\.json"):
        Calibrator.load(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match=r"missing\.json"):
        Calibrator.load(tmp_path / "missing.json")


def test_reranker_fills_probability_and_refuses_another_model(tiny_dir: Path, tmp_path: Path) -> None:
    calibrator = Calibrator(
        "platt", {"slope": 2.0, "intercept": 0.5}, model=str(tiny_dir), instruction="i", threshold=0.5
    )
    reranker = Reranker(str(tiny_dir), calibration=calibrator.save(tmp_path / "c.json"))
    assert reranker.calibrator is not None
    ranked = reranker.rank("a cat", ["a cat on a mat", "stock prices", "a kitten"], instruction="i")
    for r in ranked:
        assert r.logit is not None
        assert r.probability == pytest.approx(1 / (1 + np.exp(-(2.0 * r.logit + 0.5))), abs=1e-9)
        assert r.below_threshold == (r.probability < 0.5)
    assert ranked.threshold == 0.5
    assert ranked.nothing_relevant == all(r.below_threshold for r in ranked)
    assert ranked.to_dict()["results"][0]["probability"] == ranked[0].probability
    other = Calibrator(
        "platt", {"slope": 1.0, "intercept": 0.0}, model="Qwen/Qwen3-VL-Reranker-8B", instruction="i"
    )
    with pytest.raises(ConfigError, match="fitted on model 'Qwen/Qwen3-VL-Reranker-8B'"):
        Reranker(str(tiny_dir), calibration=other.save(tmp_path / "other.json"))


def test_nothing_relevant_when_no_result_reaches_the_threshold(reranker: Reranker) -> None:
    ranked = reranker.rank("a cat", ["a cat on a mat", "stock prices"])
    assert ranked.threshold is None and ranked.nothing_relevant is None
    strict = Calibrator("platt", {"slope": 1.0, "intercept": 0.0}, model="m", instruction="i", threshold=1.0)
    lenient = dataclasses.replace(strict, threshold=0.0)
    assert strict.apply(ranked).nothing_relevant is True
    assert lenient.apply(ranked).nothing_relevant is False
    assert "nothing relevant" in str(strict.apply(ranked))


def test_other_preprocessing_or_instruction_is_a_warning(
    reranker: Reranker, caplog: pytest.LogCaptureFixture
) -> None:
    from vlrerank.calibration import describe_preprocess
    from vlrerank.preprocess.choices import PreprocessConfig

    general = PreprocessConfig(preset="general")
    fitted = Calibrator("platt", {"slope": 1.0, "intercept": 0.0}, model="m", instruction="fit-instruction",
                        preprocess=str(describe_preprocess(general)))  # fmt: skip
    ranked = reranker.rank("a cat", ["a cat on a mat"], instruction="fit-instruction")
    with caplog.at_level("WARNING", logger="vlrerank.calibration"):
        fitted.apply(ranked, general)
        assert caplog.records == []
        fitted.apply(ranked, None)
        fitted.apply(reranker.rank("a cat", ["a mat"], instruction="another"), general)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "preprocessing" in messages and "'default'" in messages and "'another'" in messages
