"""The eval report: one self-contained HTML file (plots embedded), Markdown, JSON, per-pair CSV,
and the fitted calibrator file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, astuple, fields
from html import escape
from pathlib import Path
from typing import Any

from .. import reports
from ..calibration import INVERTED_NOTE
from ..errors import ConfigError, MissingDependencyError
from ..random_weights import RANDOM_WEIGHTS_WARNING
from .analysis import Analysis, analyse
from .metrics import measure_names
from .plots import figures
from .runner import STORE_NAME, EvalRow, current_rows, open_store

CALIBRATOR_NAME = "calibrator.json"
TIES = (
    "Ties: equal reranked scores are ordered by first-stage rank, then document id; equal "
    "first-stage scores by the run's rank column, then document id."
)


def _f(value: float | None, digits: int = 3) -> str:
    return reports.number(value, digits)


def tables(analysis: Analysis) -> dict[str, reports.Table]:
    out: dict[str, reports.Table] = {}
    orders = list(analysis.means)
    measures = list(next(iter(analysis.means.values()), {}))
    out["Metrics (mean over queries, 95% bootstrap CI)"] = (
        ["measure", *orders],
        [
            [m]
            + [
                f"{_f(analysis.means[o][m].value)} [{_f(analysis.means[o][m].ci_low)}, "
                f"{_f(analysis.means[o][m].ci_high)}]"
                for o in orders
            ]
            for m in measures
        ],
    )
    out["Paired per-query differences (b - a)"] = (
        ["measure", "a", "b", "queries", "mean delta", "95% CI", "Wilcoxon p", "b better", "a better"],
        [
            [
                c.measure,
                c.a,
                c.b,
                str(c.result.delta.n),
                _f(c.result.delta.value),
                f"[{_f(c.result.delta.ci_low)}, {_f(c.result.delta.ci_high)}]",
                _f(c.result.p_value),
                str(c.result.wins),
                str(c.result.losses),
            ]
            for c in analysis.comparisons
        ],
    )
    fit = analysis.calibration
    if fit is not None:
        out["Calibration (model score vs calibrated, out-of-fold; 95% CI)"] = (
            ["measure", "model score", "calibrated"],
            [
                [
                    name,
                    *(
                        f"{_f(s[name]['value'], 4)} [{_f(s[name]['ci_low'], 4)}, {_f(s[name]['ci_high'], 4)}]"
                        for s in (fit.before, fit.after)
                    ),
                ]
                for name in ("ece", "brier", "log_loss")
            ],
        )
        out["Threshold advice (on the calibrated probability)"] = (
            ["rule", "threshold", "95% CI", "precision", "recall kept", "F1"],
            [
                [
                    t.rule,
                    _f(t.value),
                    f"[{_f(t.ci_low)}, {_f(t.ci_high)}]",
                    _f(t.precision),
                    _f(t.recall),
                    _f(t.f1),
                ]
                if t is not None
                else [name, "not reached", "-", "-", "-", "-"]
                for name, t in fit.thresholds.items()
            ],
        )
    return out


def _intro(analysis: Analysis) -> list[str]:
    lines = [
        f"Model {analysis.model}; data {analysis.source}; {analysis.queries} queries, "
        f"{analysis.pairs} pairs per instruction, {analysis.errors} failed pairs.",
    ]
    for i, instruction in enumerate(analysis.instructions):
        name = "" if len(analysis.instructions) == 1 else f" {'AB'[i]}"
        lines.append(f"Instruction{name}: {instruction}")
        lines.append(f"Preprocessing{name}: {analysis.preprocessing[i]}")
    if not analysis.first_stage:
        lines.append(
            "No first-stage order was given (every document was a candidate): reranked metrics only."
        )
    lines.append(TIES)
    lines += [f"Warning: {w}" for w in analysis.warnings]
    fit = analysis.calibration
    if fit is not None:
        chosen = fit.calibrator
        lines.append(
            f"Calibration: {chosen.method} chosen by cross-validated log-loss "
            f"(platt {_f(fit.cv_log_loss['platt'], 4)}, isotonic {_f(fit.cv_log_loss['isotonic'], 4)}) on "
            f"{fit.pairs} pairs ({fit.relevant} relevant); applied threshold: "
            f"{_f(chosen.threshold) if chosen.threshold is not None else 'none'} "
            f"({chosen.threshold_rule or '-'}). "
            f"Saved as {CALIBRATOR_NAME}."
        )
        if chosen.inverted:
            lines.append(f"Warning: {INVERTED_NOTE}.")
    elif analysis.calibration_error:
        lines.append(f"No calibrator: {analysis.calibration_error}")
    return lines


def _require_extra() -> None:
    import importlib.util

    missing = [
        m for m in ("ir_measures", "sklearn", "scipy", "matplotlib") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise MissingDependencyError(
            f"vlrerank eval needs its extra: pip install 'vlrerank[eval]' (missing: {', '.join(missing)})"
        )


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def write_report(
    out_dir: str | Path,
    *,
    ks: list[int] | None = None,
    target_precision: float = 0.9,
    apply_threshold: str = "max-f1",
    allow_inverted: bool = False,
) -> Path:
    """Write report.html, report.md, report.json, pairs.csv and calibrator.json; return the HTML path.

    Labels and first-stage ranks come from the last run's files for all of them alike
    (:func:`vlrerank.eval.runner.current_rows`); ``allow_inverted`` keeps an inverted calibrator
    (refused otherwise), which the report and the file then name."""
    _require_extra()
    out = Path(out_dir)
    if not (out / STORE_NAME).is_file():
        raise ConfigError(f"no eval scores in {out}; run `vlrerank eval run DATA --out {out}` first")
    store = open_store(out)
    try:
        stored: list[EvalRow] = list(store.rows())
        keys = ("setup", "model", "source", "first_stage", "qrels", "candidates", "random_weights")
        meta = {k: store.meta(k) for k in keys}
    finally:
        store.close()
    rows, stale = current_rows(stored, meta)
    analysis = analyse(
        rows,
        meta,
        measure_names(ks or [10]),
        target_precision=target_precision,
        apply_threshold=apply_threshold,
        allow_inverted=allow_inverted,
    )
    if stale:
        analysis.warnings.append(
            f"{stale} stored scores of pairs that are no longer candidates were left out"
        )
    calibrator_path = out / CALIBRATOR_NAME
    if analysis.calibration is not None:
        analysis.calibration.calibrator.save(calibrator_path)
    elif calibrator_path.exists():
        calibrator_path.unlink()  # one from earlier labels would not match this report
    random_weights = {"true": "true", "false": "false"}.get(str(meta["random_weights"]), "unknown")
    ordered = sorted(rows, key=lambda r: (r.variant, r.query_id, r.first_rank))
    reports.write_csv(
        out / "pairs.csv",
        [*[f.name for f in fields(EvalRow)][1:], "random_weights"],
        ([*astuple(r)[1:], random_weights] for r in ordered),
    )
    all_tables = tables(analysis)
    banner = RANDOM_WEIGHTS_WARNING if analysis.random_weights else None
    report = {
        "random_weights_warning": banner,
        "model": analysis.model,
        "source": analysis.source,
        "instructions": analysis.instructions,
        "preprocessing": analysis.preprocessing,
        "queries": analysis.queries,
        "pairs": analysis.pairs,
        "errors": analysis.errors,
        "ties": TIES,
        "warnings": analysis.warnings,
        "metrics": {o: {m: asdict(v) for m, v in ms.items()} for o, ms in analysis.means.items()},
        "comparisons": [
            {
                "measure": c.measure,
                "a": c.a,
                "b": c.b,
                "mean_a": asdict(c.result.a),
                "mean_b": asdict(c.result.b),
                "delta": asdict(c.result.delta),
                "p_value": c.result.p_value,
                "b_better": c.result.wins,
                "a_better": c.result.losses,
            }
            for c in analysis.comparisons
        ],
        "calibration": None if analysis.calibration is None else analysis.calibration.to_dict(),
        "calibration_error": analysis.calibration_error,
    }
    (out / "report.json").write_text(json.dumps(_json_ready(report), indent=2) + "\n", encoding="utf-8")
    intro = _intro(analysis)
    markdown = ["# vlrerank eval\n\n"]
    if banner:
        markdown.append(f"**{banner}**\n\n")
    markdown += [f"- {line}\n" for line in intro]
    sections = [reports.Section(title, header, body) for title, (header, body) in all_tables.items()]
    markdown += [section.markdown() for section in sections]
    (out / "report.md").write_text("".join(markdown), encoding="utf-8")

    html = [reports.html_banner(banner)] if banner else []
    html.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in intro) + "</ul>")
    html += [reports.html_figure(title, encoded) for title, encoded in figures(analysis, rows).items()]
    html += [section.html() for section in sections]
    path = out / "report.html"
    path.write_text(reports.html_page("vlrerank eval", "vlrerank eval", html), encoding="utf-8")
    return path
