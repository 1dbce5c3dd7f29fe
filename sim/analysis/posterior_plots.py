"""Diagnostics of a posterior sample: pair plot, prior and posterior marginals, and which targets constrain
which constants.

    python -m sim.analysis.posterior_plots conf/behaviour/posterior.csv --out docs/img

Reads posterior.csv and the posterior.json beside it (python -m sim posterior); writes
posterior_pairs.png (every pair of constants, the draws, the least-squares fit marked),
posterior_marginals.png (each constant's prior density and its posterior histogram, with the shrinkage
1 - posterior sd / prior sd) and posterior_information.png (each target's share of each constant's
information at the last emulator's centre: which observations pin which constant down).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from sim.reporting.plots import save_png  # noqa: E402


def _save(fig, path: Path) -> None:
    save_png(fig, path, dpi=120)


def pairs(draws: pd.DataFrame, names: list[str], path: Path, centre: dict | None = None) -> None:
    n = len(names)
    fig, axes = plt.subplots(n, n, figsize=(1.45 * n, 1.45 * n))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            ax.tick_params(labelsize=5, length=2)
            if i == j:
                ax.hist(draws[a], bins=15, color="tab:blue", alpha=0.7)
            elif i > j:
                ax.plot(draws[b], draws[a], ".", ms=2, color="tab:blue", alpha=0.6)
                if centre:
                    ax.plot(centre[b], centre[a], "x", color="tab:red", ms=4)
            else:
                r = np.corrcoef(draws[a], draws[b])[0, 1]
                ax.text(0.5, 0.5, f"{r:+.2f}", ha="center", va="center", fontsize=8,
                        color="tab:red" if abs(r) >= 0.5 else "0.3", transform=ax.transAxes)  # fmt: skip
                ax.set_xticks([])
                ax.set_yticks([])
            if i == n - 1:
                ax.set_xlabel(b, fontsize=6)
            if j == 0:
                ax.set_ylabel(a, fontsize=6)
    fig.suptitle("Posterior draws, every pair (x: the least-squares fit; upper: correlation)", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def marginals(draws: pd.DataFrame, record: dict, names: list[str], path: Path) -> None:
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.2 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        prior = record["priors"][name]
        post = record["posterior"][name]
        x = np.linspace(prior["mean"] - 3 * prior["sd"], prior["mean"] + 3 * prior["sd"], 200)
        ax.hist(draws[name], bins=20, density=True, color="tab:blue", alpha=0.6, label="posterior")
        ax.plot(x, stats.norm.pdf(x, prior["mean"], prior["sd"]), color="0.3", label="prior")
        ax.set_title(f"{name}\nshrinkage {post['shrinkage']:.2f}", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)


def information(record: dict, names: list[str], path: Path) -> None:
    shares = record.get("information_shares")
    if not shares:
        return
    targets = list(next(iter(shares.values())))
    m = np.array([[shares[p][t] for t in targets] for p in names])
    fig, ax = plt.subplots(figsize=(0.42 * len(targets) + 2.5, 0.42 * len(names) + 2.2))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(targets)), targets, rotation=70, ha="right", fontsize=6)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    for i in range(len(names)):
        for k in range(len(targets)):
            if m[i, k] >= 0.1:
                ax.text(k, i, f"{m[i, k]:.1f}", ha="center", va="center", fontsize=5,
                        color="white" if m[i, k] > 0.5 else "black")  # fmt: skip
    fig.colorbar(im, ax=ax, shrink=0.7, label="share of the constant's information")
    ax.set_title("Which targets constrain which constants", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def write_all(posterior_csv: Path, out: Path, centre: dict | None = None) -> list[Path]:
    draws = pd.read_csv(posterior_csv)
    record = json.loads(posterior_csv.with_suffix(".json").read_text(encoding="utf-8"))
    names = [c for c in draws.columns if c != "draw"]
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "posterior_pairs.png", out / "posterior_marginals.png", out / "posterior_information.png"]
    pairs(draws, names, files[0], centre)
    marginals(draws, record, names, files[1])
    information(record, names, files[2])
    return [f for f in files if f.exists()]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("posterior", type=Path, nargs="?", default=Path("conf/behaviour/posterior.csv"))
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    args = ap.parse_args(argv)
    centre = None
    if args.posterior.resolve() == Path("conf/behaviour/posterior.csv").resolve():
        from sim.config import compose, to_dict

        centre = to_dict(compose([]))["behaviour"]["fitted"]
    for f in write_all(args.posterior, args.out, centre):
        print(f)


if __name__ == "__main__":
    main()
