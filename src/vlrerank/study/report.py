"""The study report: one self-contained HTML file (plots embedded), Markdown tables and CSV."""

from __future__ import annotations

from dataclasses import astuple, fields
from html import escape
from pathlib import Path

from .. import reports
from ..errors import ConfigError
from ..random_weights import RANDOM_WEIGHTS_WARNING
from .analysis import Analysis, analyse, size_order
from .movement import SETTLED, movement
from .plots import figures
from .report_text import remedy, spec_lines
from .runner import STORE_NAME
from .store import ResultRow, ResultStore


def _fmt(value: float | None, digits: int = 4) -> str:
    return reports.number(value, digits)


def tables(analysis: Analysis) -> dict[str, reports.Table]:
    """Every table of the report as (header, rows) of strings."""
    out: dict[str, reports.Table] = {}
    out["Score by size and category"] = (
        [
            "category",
            "size",
            "model sees",
            "visual tokens",
            "n",
            "mean",
            "std",
            "95% CI",
            "min",
            "max",
            "ms/pair",
        ],
        [
            [
                r.category,
                r.size,
                r.model_size,
                _fmt(r.visual_tokens, 0),
                str(r.summary.n),
                _fmt(r.summary.mean),
                _fmt(r.summary.std),
                f"[{_fmt(r.summary.ci_low)}, {_fmt(r.summary.ci_high)}]",
                _fmt(r.summary.min),
                _fmt(r.summary.max),
                _fmt(r.latency_ms, 1),
            ]
            for r in analysis.sizes
        ],
    )
    out["Peak and plateau per category"] = (
        ["category", "peak size", "sizes within the peak's CI", "shape"],
        [[p.category, p.peak, ", ".join(p.plateau), p.shape] for p in analysis.peaks],
    )
    out["Interpolation vs baseline (paired)"] = (
        ["interpolation", "baseline", "size", "n", "mean delta", "95% CI", "Wilcoxon p"],
        [
            [
                i.interpolation,
                i.baseline,
                i.size,
                str(i.delta.n),
                _fmt(i.delta.mean),
                f"[{_fmt(i.delta.ci_low)}, {_fmt(i.delta.ci_high)}]",
                _fmt(i.delta.p_value, 3),
            ]
            for i in analysis.interpolation
        ],
    )
    out["Rank stability across repeats"] = (
        ["size", "interpolation", "repeats", "items", "mean Kendall tau", "min tau", "mean |rank change|"],
        [
            [
                s.size,
                s.interpolation,
                str(s.stability.repeats),
                str(s.stability.items),
                _fmt(s.stability.mean_tau),
                _fmt(s.stability.min_tau),
                _fmt(s.stability.mean_abs_rank_change, 2),
            ]
            for s in analysis.stability
        ],
    )
    out["Ranking quality (labelled groups)"] = (
        ["size", "interpolation", "groups", "top-1 accuracy", "MRR", "nDCG"],
        [
            [r.size, r.interpolation, str(r.groups), _fmt(r.top1, 3), _fmt(r.mrr, 3), _fmt(r.ndcg, 3)]
            for r in analysis.ranking
        ],
    )
    out["Sub-score correlations"] = (
        ["pair", "n", "Pearson r", "95% CI", "Spearman rho", "95% CI"],
        [
            [
                c.subset,
                str(c.correlation.n),
                _fmt(c.correlation.pearson, 3),
                f"[{_fmt(c.correlation.pearson_ci[0], 3)}, {_fmt(c.correlation.pearson_ci[1], 3)}]",
                _fmt(c.correlation.spearman, 3),
                f"[{_fmt(c.correlation.spearman_ci[0], 3)}, {_fmt(c.correlation.spearman_ci[1], 3)}]",
            ]
            for c in analysis.correlations
        ],
    )
    out["Cost per size"] = (
        ["size", "model sees", "visual tokens", "ms/pair", "peak memory MB", "mean score", "95% CI"],
        [
            [
                c.size,
                c.model_size,
                _fmt(c.visual_tokens, 0),
                _fmt(c.latency_ms, 1),
                _fmt(c.peak_memory_mb, 0),
                _fmt(c.summary.mean),
                f"[{_fmt(c.summary.ci_low)}, {_fmt(c.summary.ci_high)}]",
            ]
            for c in analysis.cost
        ],
    )
    return out


def write_report(out_dir: str | Path) -> Path:
    """Write report.html, report.md, results.csv and summary CSVs into ``out_dir``; return the HTML path."""
    out = Path(out_dir)
    if not (out / STORE_NAME).is_file():
        raise ConfigError(f"no study results in {out}; run `vlrerank study run SPEC --out {out}` first")
    store = ResultStore(out / STORE_NAME)
    try:
        rows = list(store.rows())
        keys = ("fingerprint", "model", "version", "spec", "random_weights", "cost_method")
        meta = {k: store.meta(k) for k in keys}
    finally:
        store.close()
    if not rows:
        raise ConfigError(f"the study in {out} has no results yet")
    analysis = analyse(rows)
    all_tables = tables(analysis)
    moved, settled = movement(rows)
    all_tables["Score movement toward the largest size"] = (
        ["size", "visual tokens", "n", "mean abs change", "max abs change"],
        [[m.size, _fmt(m.visual_tokens, 0), str(m.n), _fmt(m.mean_abs_change), _fmt(m.max_abs_change)]
         for m in moved],
    )  # fmt: skip
    random = meta.get("random_weights") == "true"
    cost_note = meta.get("cost_method") or "How cost was measured was not recorded (an older results store)."

    ordered = sorted(rows, key=lambda r: (r.category, r.item, size_order(r.size)))
    reports.write_csv(out / "results.csv", [f.name for f in fields(ResultRow)], (astuple(r) for r in ordered))
    for title, (header, body) in all_tables.items():
        name = title.lower().split(" (")[0].replace(" ", "_").replace("-", "_") + ".csv"
        reports.write_csv(out / name, header, body)

    banner = f"**{RANDOM_WEIGHTS_WARNING}**\n\n" if random else ""
    markdown = [
        f"# Resolution study\n\n{banner}Model `{meta['model']}`, vlrerank {meta['version']}, "
        f"fingerprint `{(meta['fingerprint'] or '')[:16]}`. "
        f"{analysis.rows} results, {analysis.errors} errors. "
        f"Cheapest size within one CI of the best mean score: **{analysis.cheapest_size}**. "
        f"Scores stop moving (mean change from the largest size under {SETTLED}) at: **{settled}**.\n",
        "\n## Spec\n\n```\n" + "\n".join(spec_lines(meta["spec"])) + "\n```\n",
    ]
    notes = {"Cost per size": [cost_note]}
    sections = [
        reports.Section(title, header, body, notes=notes.get(title, []), empty=remedy(title))
        for title, (header, body) in all_tables.items()
    ]
    markdown += [section.markdown() for section in sections]
    (out / "report.md").write_text("".join(markdown), encoding="utf-8")

    html = [reports.html_banner(RANDOM_WEIGHTS_WARNING)] if random else []
    html.append(
        f"<p>Model <code>{escape(str(meta['model']))}</code>, vlrerank {escape(str(meta['version']))}, "
        f"fingerprint <code>{escape((meta['fingerprint'] or '')[:16])}</code>. {analysis.rows} results, "
        f"{analysis.errors} errors. Cheapest size within one CI of the best mean score: "
        f"<strong>{escape(str(analysis.cheapest_size))}</strong>. Sizes show the nominal candidate size "
        "and, in brackets, what the model actually sees after its own resize.</p>"
    )
    html += [reports.html_figure(title, encoded) for title, encoded in figures(analysis, rows).items()]
    html += [section.html() for section in sections]
    html.append(f"<h2>Spec</h2><pre>{escape(chr(10).join(spec_lines(meta['spec'])))}</pre>")
    path = out / "report.html"
    path.write_text(
        reports.html_page("vlrerank resolution study", "Resolution study", html), encoding="utf-8"
    )
    return path
