"""From stored scores to findings: metrics per order, paired comparisons, calibration.

Orders are handed to ir-measures without ties: reranked scores that are equal are ordered by
first-stage rank, then document id (ir-measures, like trec_eval, would otherwise order them by
document id descending), and each document gets its position as score. Queries with nothing
relevant are left out of the means (their nDCG, recall and MAP are undefined); queries the run
gave no candidates count as 0. Both are counted in :attr:`Analysis.warnings`.
"""

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
    warnings: list[str] = field(default_factory=list)


def order_name(variant: int, count: int) -> str:
    return "reranked" if count == 1 else f"reranked ({'AB'[variant]})"


def reranked_order(rows: list[EvalRow]) -> list[EvalRow]:
    """One query's rows, best first: by score, ties by first-stage rank then document id; failed
    pairs last (as a reranker would leave them), in first-stage order."""
    return sorted(
        rows,
        key=lambda r: (r.score is None, -(r.score or 0.0), r.first_rank, r.document_id),
    )


def runs(rows: list[EvalRow], variants: int) -> dict[str, dict[str, dict[str, float]]]:
    """order -> query -> document -> a score without ties that gives that order (see the module
    docstring for how ties are broken)."""
    grouped: dict[tuple[int, str], list[EvalRow]] = {}
    first: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.variant == 0:
            first.setdefault(row.query_id, {})[row.document_id] = -float(row.first_rank)
        grouped.setdefault((row.variant, row.query_id), []).append(row)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (variant, query), group in sorted(grouped.items()):
        ordered = reranked_order(group)
        run = out.setdefault(order_name(variant, variants), {})
        run[query] = {r.document_id: float(len(ordered) - i) for i, r in enumerate(ordered)}
    return {FIRST_STAGE: first, **out}


def analyse(
    rows: list[EvalRow],
    meta: dict[str, str | None],
    measures: list[str],
    *,
    target_precision: float = 0.9,
    apply_threshold: str = "max-f1",
    allow_inverted: bool = False,
) -> Analysis:
    if not rows:
        raise ConfigError("no scored pairs for the current candidates; run `vlrerank eval run` first")
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
    relevant = {q: docs for q, docs in qrels.items() if any(v > 0 for v in docs.values())}
    if len(relevant) < len(qrels):
        analysis.warnings.append(
            f"{len(qrels) - len(relevant)} of {len(qrels)} judged queries have no relevant document: "
            "left out of the metric means (nDCG, recall and MAP are undefined for them); their pairs "
            "still count for calibration"
        )
    unranked = sorted(set(relevant) - {r.query_id for r in rows})
    if unranked:
        analysis.warnings.append(
            f"{len(unranked)} of {len(relevant)} evaluated queries have no candidates (the run does not "
            f"cover them, e.g. {unranked[0]!r}): they count as 0 in every mean"
        )
    if not relevant:
        raise ConfigError(
            "no judged query has a relevant document (a grade of 1 or more): nothing to measure"
        )
    values = {name: per_query(measures, relevant, run) for name, run in orders.items()}
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
            random_weights=analysis.random_weights,
            allow_inverted=allow_inverted,
        )
    except ConfigError as exc:
        analysis.calibration_error = str(exc)
    return analysis
