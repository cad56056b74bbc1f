"""The study report: one self-contained HTML file (plots embedded), Markdown tables and CSV."""

from __future__ import annotations

import base64
import csv
import io
import math
from dataclasses import astuple, fields
from html import escape
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingDependencyError
from ..random_weights import RANDOM_WEIGHTS_WARNING
from .analysis import Analysis, analyse, size_order
from .movement import SETTLED, movement
from .report_text import remedy, spec_lines
from .runner import STORE_NAME
from .store import ResultRow, ResultStore


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def tables(analysis: Analysis) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Every table of the report as (header, rows) of strings."""
    out: dict[str, tuple[list[str], list[list[str]]]] = {}
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


def _plots(analysis: Analysis, rows: list[ResultRow]) -> dict[str, str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "the report's plots need matplotlib: pip install 'vlrerank[study]'"
        ) from None

    def encode(figure: object) -> str:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
        plt.close(figure)  # type: ignore[arg-type]
        return base64.b64encode(buffer.getvalue()).decode()

    plots = {}
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for category in sorted({r.category for r in analysis.sizes}):
        cells = [r for r in analysis.sizes if r.category == category]
        x = np.arange(len(cells))
        axis.plot(x, [c.summary.mean for c in cells], marker="o", label=category)
        axis.fill_between(x, [c.summary.ci_low for c in cells], [c.summary.ci_high for c in cells], alpha=0.2)
        axis.set_xticks(x, [f"{c.size}\n({c.model_size})" for c in cells], fontsize=7)
    axis.set_ylabel("mean score (95% CI)")
    axis.set_title("Score vs candidate size (model-side size in brackets)")
    axis.legend()
    plots["Score vs size per category"] = encode(figure)

    deltas = [i for i in analysis.interpolation if i.size != "all"]
    if deltas:
        figure, axis = plt.subplots(figsize=(8, 4))
        for name in sorted({d.interpolation for d in deltas}):
            chosen = [d for d in deltas if d.interpolation == name]
            x = np.arange(len(chosen))
            mean = np.array([d.delta.mean for d in chosen])
            err = np.array(
                [
                    [m - d.delta.ci_low for m, d in zip(mean, chosen, strict=True)],
                    [d.delta.ci_high - m for m, d in zip(mean, chosen, strict=True)],
                ]
            )
            axis.errorbar(
                x,
                mean,
                yerr=np.nan_to_num(err),
                marker="o",
                capsize=3,
                label=f"{name} - {chosen[0].baseline}",
            )
            axis.set_xticks(x, [d.size for d in chosen], fontsize=7)
        axis.axhline(0, color="grey", linewidth=0.8)
        axis.set_ylabel("paired score difference")
        axis.set_title("Interpolation vs baseline")
        axis.legend()
        plots["Interpolation comparison"] = encode(figure)

    names = ["score", "visual_match", "text_alignment", "visual_tokens", "latency_ms"]
    columns = {
        n: np.array([getattr(r, n) if getattr(r, n) is not None else np.nan for r in rows], float)
        for n in names
    }
    usable = [n for n in names if np.isfinite(columns[n]).sum() > 2 and np.nanstd(columns[n]) > 0]
    if len(usable) >= 2:
        matrix = np.array([[_pearson(columns[a], columns[b]) for b in usable] for a in usable])
        figure, axis = plt.subplots(figsize=(5, 4))
        image = axis.imshow(matrix, vmin=-1, vmax=1, cmap="coolwarm")
        axis.set_xticks(range(len(usable)), usable, rotation=30, fontsize=7)
        axis.set_yticks(range(len(usable)), usable, fontsize=7)
        for (i, j), value in np.ndenumerate(matrix):
            axis.text(j, i, _fmt(value, 2), ha="center", va="center", fontsize=7)
        figure.colorbar(image)
        axis.set_title("Pearson correlations")
        plots["Correlation heatmap"] = encode(figure)

    if analysis.stability:
        figure, axis = plt.subplots(figsize=(8, 3.5))
        labels = [f"{s.size}\n{s.interpolation}" for s in analysis.stability]
        axis.bar(range(len(labels)), [s.stability.mean_tau for s in analysis.stability])
        axis.set_xticks(range(len(labels)), labels, fontsize=6)
        axis.set_ylim(-1, 1.05)
        axis.set_ylabel("mean Kendall tau")
        axis.set_title("Rank stability across repeats")
        plots["Rank stability"] = encode(figure)

    if analysis.cost:
        figure, axis = plt.subplots(figsize=(7, 4))
        tokens = [c.visual_tokens for c in analysis.cost]
        means = [c.summary.mean for c in analysis.cost]
        axis.errorbar(
            tokens,
            means,
            yerr=np.nan_to_num(
                [
                    [m - c.summary.ci_low for m, c in zip(means, analysis.cost, strict=True)],
                    [c.summary.ci_high - m for m, c in zip(means, analysis.cost, strict=True)],
                ]
            ),
            fmt="o",
            capsize=3,
        )
        for c in analysis.cost:
            marker = " (cheapest within CI of best)" if c.size == analysis.cheapest_size else ""
            axis.annotate(c.size + marker, (c.visual_tokens, c.summary.mean), fontsize=7)
        axis.set_xlabel("visual tokens per image (cost)")
        axis.set_ylabel("mean score")
        axis.set_title("Score vs cost frontier")
        plots["Score vs cost"] = encode(figure)
    return plots


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    mask = np.isfinite(a) & np.isfinite(b)
    if mask.sum() < 3 or np.std(a[mask]) == 0 or np.std(b[mask]) == 0:
        return math.nan
    return float(np.corrcoef(a[mask], b[mask])[0, 1])


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

    with (out / "results.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(ResultRow)])
        writer.writerows(
            astuple(r) for r in sorted(rows, key=lambda r: (r.category, r.item, size_order(r.size)))
        )
    for title, (header, body) in all_tables.items():
        name = title.lower().split(" (")[0].replace(" ", "_").replace("-", "_") + ".csv"
        with (out / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body)

    banner = f"**{RANDOM_WEIGHTS_WARNING}**\n\n" if random else ""
    markdown = [
        f"# Resolution study\n\n{banner}Model `{meta['model']}`, vlrerank {meta['version']}, "
        f"fingerprint `{(meta['fingerprint'] or '')[:16]}`. "
        f"{analysis.rows} results, {analysis.errors} errors. "
        f"Cheapest size within one CI of the best mean score: **{analysis.cheapest_size}**. "
        f"Scores stop moving (mean change from the largest size under {SETTLED}) at: **{settled}**.\n",
        "\n## Spec\n\n```\n" + "\n".join(spec_lines(meta["spec"])) + "\n```\n",
    ]
    for title, (header, body) in all_tables.items():
        markdown.append(f"\n## {title}\n\n")
        if title == "Cost per size":
            markdown.append(f"{cost_note}\n\n")
        if not body:
            markdown.append(f"{remedy(title)}\n")
            continue
        markdown.append("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
        markdown += ["| " + " | ".join(cells) + " |\n" for cells in body]
    (out / "report.md").write_text("".join(markdown), encoding="utf-8")

    html = [
        "<!doctype html><html><head><meta charset='utf-8'><title>vlrerank resolution study</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #ccc;padding:3px 8px}"
        ".banner{background:#fff3cd;color:#664d03;padding:10px;border-radius:4px}img{max-width:100%}",
        "</style></head><body><h1>Resolution study</h1>",
    ]
    if random:
        html.append(f"<p class='banner'><strong>{escape(RANDOM_WEIGHTS_WARNING)}</strong></p>")
    html.append(
        f"<p>Model <code>{escape(str(meta['model']))}</code>, vlrerank {escape(str(meta['version']))}, "
        f"fingerprint <code>{escape((meta['fingerprint'] or '')[:16])}</code>. {analysis.rows} results, "
        f"{analysis.errors} errors. Cheapest size within one CI of the best mean score: "
        f"<strong>{escape(str(analysis.cheapest_size))}</strong>. Sizes show the nominal candidate size "
        "and, in brackets, what the model actually sees after its own resize.</p>"
    )
    for title, encoded in _plots(analysis, rows).items():
        html.append(
            f"<h2>{escape(title)}</h2><img alt='{escape(title)}' src='data:image/png;base64,{encoded}'>"
        )
    for title, (header, body) in all_tables.items():
        html.append(f"<h2>{escape(title)}</h2>")
        if title == "Cost per size":
            html.append(f"<p>{escape(cost_note)}</p>")
        if not body:
            html.append(f"<p>{escape(remedy(title))}</p>")
            continue
        html.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>")
        html += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>" for cells in body]
        html.append("</table>")
    html.append(f"<h2>Spec</h2><pre>{escape(chr(10).join(spec_lines(meta['spec'])))}</pre></body></html>")
    path = out / "report.html"
    path.write_text("".join(html), encoding="utf-8")
    return path
