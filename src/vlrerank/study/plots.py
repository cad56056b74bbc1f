"""The study report's figures, as base64 PNGs for embedding in one HTML file."""

from __future__ import annotations

import math

import numpy as np

from ..reports import number, png_base64, pyplot
from .analysis import Analysis
from .store import ResultRow


def figures(analysis: Analysis, rows: list[ResultRow]) -> dict[str, str]:
    """Score vs size per category, interpolation deltas, sub-score correlations, rank stability,
    score vs cost."""
    plt = pyplot("study")
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
    plots["Score vs size per category"] = png_base64(figure)

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
        plots["Interpolation comparison"] = png_base64(figure)

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
            axis.text(j, i, number(value, 2), ha="center", va="center", fontsize=7)
        figure.colorbar(image)
        axis.set_title("Pearson correlations")
        plots["Correlation heatmap"] = png_base64(figure)

    if analysis.stability:
        figure, axis = plt.subplots(figsize=(8, 3.5))
        labels = [f"{s.size}\n{s.interpolation}" for s in analysis.stability]
        axis.bar(range(len(labels)), [s.stability.mean_tau for s in analysis.stability])
        axis.set_xticks(range(len(labels)), labels, fontsize=6)
        axis.set_ylim(-1, 1.05)
        axis.set_ylabel("mean Kendall tau")
        axis.set_title("Rank stability across repeats")
        plots["Rank stability"] = png_base64(figure)

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
        plots["Score vs cost"] = png_base64(figure)
    return plots


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    mask = np.isfinite(a) & np.isfinite(b)
    if mask.sum() < 3 or np.std(a[mask]) == 0 or np.std(b[mask]) == 0:
        return math.nan
    return float(np.corrcoef(a[mask], b[mask])[0, 1])
