"""The eval report's figures, as base64 PNGs for embedding in one HTML file."""

from __future__ import annotations

import numpy as np

from ..reports import png_base64, pyplot
from .analysis import Analysis
from .runner import EvalRow


def figures(analysis: Analysis, rows: list[EvalRow]) -> dict[str, str]:
    """Metric bars with CIs, score distributions (relevant vs not), reliability diagram."""
    plt = pyplot("eval")
    title_suffix = " (RANDOM weights: meaningless)" if analysis.random_weights else ""
    out = {}
    orders = list(analysis.means)
    measures = list(next(iter(analysis.means.values()), {}))
    if measures:
        figure, axis = plt.subplots(figsize=(9, 4))
        width = 0.8 / max(len(orders), 1)
        x = np.arange(len(measures))
        for i, order in enumerate(orders):
            means = [analysis.means[order][m] for m in measures]
            values = np.array([m.value for m in means])
            errors = np.array([[m.value - m.ci_low for m in means], [m.ci_high - m.value for m in means]])
            axis.bar(x + i * width, values, width, yerr=np.nan_to_num(errors), capsize=3, label=order)
        axis.set_xticks(x + width * (len(orders) - 1) / 2, measures, fontsize=8, rotation=30)
        axis.set_ylim(0, 1.05)
        axis.set_ylabel("mean over queries (95% CI)")
        axis.set_title("Ranking metrics" + title_suffix)
        axis.legend(fontsize=8)
        out["Ranking metrics"] = png_base64(figure)

    scored = [r for r in rows if r.score is not None and r.variant == 0]
    if scored:
        figure, axis = plt.subplots(figsize=(7, 3.5))
        bins = [i / 25 for i in range(26)]
        for name, chosen in (("relevant", [r for r in scored if r.label > 0]),
                             ("not relevant", [r for r in scored if r.label <= 0])):  # fmt: skip
            if chosen:
                axis.hist(
                    [float(r.score or 0.0) for r in chosen],
                    bins=bins,
                    alpha=0.55,
                    label=f"{name} ({len(chosen)})",
                )
        axis.set_xlabel("model score")
        axis.set_ylabel("pairs")
        axis.set_title("Score distribution, relevant vs not" + title_suffix)
        axis.legend(fontsize=8)
        out["Score distributions"] = png_base64(figure)

    fit = analysis.calibration
    if fit is not None:
        figure, axis = plt.subplots(figsize=(5, 5))
        axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8, label="perfect")
        for name, bins_ in (("model score", fit.reliability_before), ("calibrated", fit.reliability_after)):
            axis.plot([b["predicted"] for b in bins_], [b["observed"] for b in bins_], marker="o", label=name)
        threshold = fit.calibrator.threshold
        if threshold is not None:
            axis.axvline(threshold, color="red", linestyle=":", label=f"threshold {threshold:.2f}")
        axis.set_xlabel("predicted probability")
        axis.set_ylabel("observed rate of relevant pairs")
        axis.set_title("Reliability diagram" + title_suffix, fontsize=9)
        axis.legend(fontsize=8)
        out["Reliability diagram"] = png_base64(figure)
    return out
