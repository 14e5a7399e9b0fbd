"""The ``runs compare`` figure: several runs' calibration and lift curves overlaid."""

from __future__ import annotations

from typing import Any


def overlay_curves(curves: dict[str, dict[str, Any] | None]) -> Any:
    """Two panels (calibration, cumulative gain) with one line per run.

    Parameters
    ----------
    curves
        ``{label: curves.json content or None}``; a run without curves is named in
        the legend as missing. Each content has ``calibration`` (``p_mean``, ``rate``)
        and ``gain`` (``share_targeted``, ``share_captured``), all lists in [0, 1].

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cal, gain) = plt.subplots(1, 2, figsize=(11, 4.5))
    cal.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    gain.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="random")
    for label, content in curves.items():
        if not content:
            cal.plot([], [], label=f"{label} (no curves logged)")
            continue
        c, g = content["calibration"], content["gain"]
        cal.plot(c["p_mean"], c["rate"], marker="o", ms=3, label=label)
        gain.plot(g["share_targeted"], g["share_captured"], label=label)
    cal.set(title="Calibration", xlabel="predicted P(buy)", ylabel="observed rate", xlim=(0, 1), ylim=(0, 1))
    gain.set(title="Cumulative gain", xlabel="share of pairs targeted (by score)",
             ylabel="share of buyers captured", xlim=(0, 1), ylim=(0, 1))
    cal.legend(fontsize=8)
    gain.legend(fontsize=8)
    fig.tight_layout()
    return fig
