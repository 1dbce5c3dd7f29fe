"""Plots of runs: the province's resident and hukou urbanization curves."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from sim.places import TARGET_RESIDENT_RATE_PCT  # noqa: E402


def save_png(fig, path: Path, dpi: float | None = None) -> None:
    """Write a figure as PNG atomically (no half-written file on failure) and close it."""
    from sim.runs.outputs import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **({"dpi": dpi} if dpi else {}))
    plt.close(fig)


def footer(fig, text: str) -> None:
    fig.text(0.01, 0.005, text, fontsize=6.5, color="0.4", ha="left", va="bottom")


def urbanization_figure(table: pd.DataFrame, observed: pd.DataFrame, footer_text: str, path: Path) -> None:
    """Province resident and hukou rates 2020-2029 with observed points and the 70% target."""
    prov = table[(table.level == "province")]
    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=130)
    for ind, label, color in (
        ("resident_urbanization_rate_pct", "resident rate - model", "tab:blue"),
        ("hukou_urbanization_rate_pct", "hukou rate - model", "tab:orange"),
    ):
        s = prov[prov.indicator == ind].groupby("year")["value"].median()
        ax.plot(s.index, s.values, "-", color=color, lw=2, label=label)
    obs = observed.dropna(subset=["urbanization_rate_pct"])
    ax.plot(obs.year, obs.urbanization_rate_pct, "o", color="tab:blue", mfc="white", label="resident - observed")
    obs_h = observed.dropna(subset=["hukou_urbanization_rate_pct"])
    ax.plot(
        obs_h.year, obs_h.hukou_urbanization_rate_pct, "s", color="tab:orange", mfc="white", label="hukou - observed"
    )
    nat = observed.dropna(subset=["national_urbanization_rate_pct"])
    ax.plot(nat.year, nat.national_urbanization_rate_pct, "^", color="0.5", ms=4, label="national - observed")
    ax.axhline(TARGET_RESIDENT_RATE_PCT, color="tab:red", ls="--", lw=1)
    ax.text(2020.1, TARGET_RESIDENT_RATE_PCT + 0.4, "2029 target: close to 70%", color="tab:red", fontsize=8)
    ax.set_xlim(2016.5, 2029.5)
    ax.set_xlabel("year end")
    ax.set_ylabel("urbanization rate, %")
    ax.set_title("Shanxi urbanization: resident and hukou rates")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    footer(fig, footer_text)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save_png(fig, path)
