"""The metrics eval reports agree with a second, independent computation of the same runs."""

from __future__ import annotations

import numpy as np
import pytest

from vlrerank.eval.metrics import measure_names, paired, per_query

from .reference_metrics import independent


def test_ir_measures_agree_with_an_independent_implementation() -> None:
    rng = np.random.default_rng(5)
    qrels, run = {}, {}
    for q in range(30):
        documents = [f"d{q}-{i}" for i in range(25)]
        qrels[f"q{q}"] = {d: int(rng.choice([0, 0, 1, 2])) for d in documents[:18]}
        qrels[f"q{q}"][f"missing-{q}"] = 1  # relevant but never retrieved: Recall and MAP must notice
        run[f"q{q}"] = {d: float(rng.random()) for d in documents}
    names = measure_names([1, 3, 10])
    computed = per_query(names, qrels, run)
    for name in names:
        for q in qrels:
            total = sum(1 for g in qrels[q].values() if g > 0)
            expected = independent(name, qrels[q], run[q], total)
            assert computed[name][q] == pytest.approx(expected, abs=1e-9), (name, q)


def test_a_query_without_candidates_scores_zero() -> None:
    values = per_query(["nDCG@10", "AP"], {"a": {"x": 1}, "b": {"y": 1}}, {"a": {"x": 1.0}, "b": {}})
    assert values["nDCG@10"] == {"a": 1.0, "b": 0.0}


def test_paired_comparison_sees_a_real_improvement_and_no_change() -> None:
    rng = np.random.default_rng(0)
    before = {f"q{i}": float(v) for i, v in enumerate(rng.uniform(0.2, 0.6, 60))}
    after = {q: v + 0.1 + float(rng.normal(0, 0.02)) for q, v in before.items()}
    better = paired(before, after)
    assert better.delta.ci_low > 0.05 and better.delta.ci_high < 0.15
    assert better.p_value < 1e-6 and better.wins == 60
    same = paired(before, before)
    assert same.delta.value == 0 and same.p_value == 1.0
