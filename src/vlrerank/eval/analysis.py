"""From stored scores to findings: metrics per order, paired comparisons, calibration."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import ConfigError
from .calibrate import CalibrationFit, fit_calibrator
from .metrics import Mean, Paired, label, mean_ci, paired, per_query
from .runner import EvalRow

FIRST_STAGE = "first stage"


@dataclass(frozen=True)
class Comparison:
    measure: str
    a: str
    b: str
    result: Paired


@dataclass
class Analysis:
    model: str
    random_weights: bool
    source: str
    instructions: list[str]
    preprocessing: list[str]
    queries: int
    pairs: int
    errors: int
    first_stage: bool
    means: dict[str, dict[str, Mean]] = field(default_factory=dict)  # order -> measure -> mean
    comparisons: list[Comparison] = field(default_factory=list)
    calibration: CalibrationFit | None = None
    calibration_error: str | None = None


def order_name(variant: int, count: int) -> str:
    return "reranked" if count == 1 else f"reranked ({'AB'[variant]})"


def runs(rows: list[EvalRow], variants: int) -> dict[str, dict[str, dict[str, float]]]:
    """order -> query -> document -> score; failed pairs rank last (as a reranker would leave them)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    first: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.variant == 0:
            first.setdefault(row.query_id, {})[row.document_id] = -float(row.first_rank)
        run = out.setdefault(order_name(row.variant, variants), {})
        score = row.score if row.score is not None else -1.0 - row.first_rank * 1e-6
        run.setdefault(row.query_id, {})[row.document_id] = score
    return {FIRST_STAGE: first, **out}


def analyse(
    rows: list[EvalRow],
    meta: dict[str, str | None],
    measures: list[str],
    *,
    target_precision: float = 0.9,
    apply_threshold: str = "max-f1",
) -> Analysis:
    if not rows:
        raise ConfigError("no scores stored yet; run `vlrerank eval run` first")
    setup = json.loads(meta.get("setup") or "{}")
    instructions = list(setup.get("instructions") or [rows[0].instruction])
    stored = setup.get("preprocess") or "default"
    stored = [stored] * len(instructions) if isinstance(stored, str) else stored
    preprocessing = [str(p or "default") for p in stored]
    qrels = {q: {d: int(v) for d, v in docs.items()} for q, docs in json.loads(meta["qrels"] or "{}").items()}
    first_stage = meta.get("first_stage") == "true"
    analysis = Analysis(
        model=str(meta.get("model")),
        random_weights=meta.get("random_weights") == "true",
        source=str(meta.get("source")),
        instructions=instructions,
        preprocessing=preprocessing,
        queries=len(qrels),
        pairs=sum(1 for r in rows if r.variant == 0),
        errors=sum(1 for r in rows if r.error),
        first_stage=first_stage,
    )
    orders = runs(rows, len(instructions))
    if not first_stage:
        del orders[FIRST_STAGE]  # corpus order is no ranking: nothing to compare against
    values = {name: per_query(measures, qrels, run) for name, run in orders.items()}
    for name, by_measure in values.items():
        analysis.means[name] = {label(m): mean_ci(list(v.values())) for m, v in by_measure.items()}
    variants = [order_name(v, len(instructions)) for v in range(len(instructions))]
    compared = [(FIRST_STAGE, v) for v in variants] if first_stage else []
    if len(variants) == 2:
        compared.append((variants[0], variants[1]))
    for a, b in compared:
        for measure in measures:
            result = paired(values[a][measure], values[b][measure])
            analysis.comparisons.append(Comparison(label(measure), a, b, result))
    scored = [r for r in rows if r.variant == 0 and r.logit is not None]
    try:
        analysis.calibration = fit_calibrator(
            [r.logit for r in scored if r.logit is not None],
            [r.label for r in scored],
            model=analysis.model,
            instruction=instructions[0],
            preprocess=preprocessing[0],
            target_precision=target_precision,
            apply=apply_threshold,
        )
    except ConfigError as exc:
        analysis.calibration_error = str(exc)
    return analysis
