"""The report's figures (matplotlib, PNG).  Each `*_figure` builds a Figure from the report's own
figures (tests measure its text for overlaps); the function of the same name without the suffix
writes it to a path.

    energy        energy per inference, horizontal bars grouped by what they count (the network
                  as built at 45 nm; each chip profile as deployed and streamed, stacked dynamic /
                  static / host), the ANN baselines as labelled reference lines; uJ
    accuracy      accuracy per network as points with the 95 % Wilson interval of its sample count
    divergence    spike agreement per layer: checkpoint vs folded graph, folded graph vs chip
    firing_rates  spikes per neuron per step per layer, float and chip
    utilisation   the most any core of a layer uses of each per-core limit, per chip profile
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SPLIT_COLOURS = {"dynamic": "C0", "static": "C1", "host": "C2"}
REFERENCE = ("ann_45nm", "ann_int8_45nm")        # drawn as lines, not bars


def _save(fig, path) -> None:
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def energy_figure(energy: dict):
    """energy: report.json's "energy" ({key: {"label", "pj", "split_pj"?}}).  One bar per estimate
    but the ANN baselines, which are vertical reference lines; two groups, the network as built
    (45 nm) and the chip (each profile as deployed and streamed, stacked dynamic / static / host).
    A linear axis, so that the stacked parts keep their proportions."""
    built = [v for k, v in energy.items() if k not in REFERENCE and "split_pj" not in v]
    chip = [v for v in energy.values() if "split_pj" in v]
    groups = [("network as built, 45 nm", built), ("chip, deployed program", chip)]
    rows = [(title, None) for title, _ in groups[:0]]
    for title, members in groups:
        if members:
            rows += [(title, None)] + [(v["label"], v) for v in members]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.4))
    y = list(range(len(rows)))[::-1]
    top = max(v["pj"] for v in energy.values()) / 1e6
    seen = set()
    for yi, (label, v) in zip(y, rows):
        if v is None:
            continue
        if "split_pj" in v:
            left = 0.0
            for part, pj in v["split_pj"].items():
                if pj > 0:
                    ax.barh(yi, pj / 1e6, left=left, color=SPLIT_COLOURS.get(part, "C7"), height=0.6,
                            label=f"chip: {part}" if part not in seen else None)
                    seen.add(part)
                    left += pj / 1e6
        else:
            ax.barh(yi, v["pj"] / 1e6, color="C7", height=0.6)
        ax.text(v["pj"] / 1e6 + 0.01 * top, yi, f"{v['pj'] / 1e6:.3g} µJ", va="center", fontsize=8)
    for i, k in enumerate(k for k in REFERENCE if k in energy):
        ax.axvline(energy[k]["pj"] / 1e6, color="k", ls=("--", ":")[i % 2], lw=1,
                   label=f"{energy[k]['label']}: {energy[k]['pj'] / 1e6:.3g} µJ")
    ax.set_yticks(y, [label for label, _ in rows], fontsize=8)
    for tick, (_, v) in zip(ax.get_yticklabels(), rows):
        if v is None:
            tick.set_fontweight("bold")
    ax.set_xlim(0, top * 1.18)
    ax.set_xlabel("energy per inference (µJ)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def energy(path, energy_: dict) -> None:
    _save(energy_figure(energy_), path)


def wilson(accuracy_pct: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval (in %) of an accuracy measured on n samples."""
    if n <= 0:
        return 0.0, 100.0
    p = accuracy_pct / 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def accuracy_figure(labels: list, values: list, n: int):
    """One point per network with its 95 % Wilson interval for n test samples; the axis spans the
    intervals with a margin, and says so."""
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(labels) + 1.4))
    y = list(range(len(labels)))[::-1]
    lo_hi = [wilson(v, n) for v in values]
    for yi, v, (lo, hi) in zip(y, values, lo_hi):
        ax.errorbar(v, yi, xerr=[[v - lo], [hi - v]], fmt="o", color="C0", capsize=3)
        ax.text(hi + 0.15, yi, f"{v:.2f}%", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    low = max(0.0, min(lo for lo, _ in lo_hi) - 1)
    ax.set_xlim(low, min(100.0, max(hi for _, hi in lo_hi) + 1.5) if low > 0 else 100.0)
    ax.set_xlabel(f"test accuracy (%), 95 % interval for {n} samples")
    fig.tight_layout()
    return fig


def accuracy(path, labels: list, values: list, n: int) -> None:
    _save(accuracy_figure(labels, values, n), path)


def divergence_figure(layers: list):
    """layers: report.json's divergence rows ({"layer", comparison: %}): one line per comparison."""
    names = [r["layer"] for r in layers]
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(names) + 2.5), 3.4))
    for key, marker in (("checkpoint_vs_folded", "o"), ("folded_vs_chip", "s")):
        vals = [r.get(key) for r in layers]
        if any(v is not None for v in vals):
            ax.plot(range(len(names)), [float("nan") if v is None else v for v in vals], marker=marker,
                    label=key.replace("_", " "))
    ax.axhline(99, color="k", lw=0.8, ls="--", label="99 %")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("spikes that agree (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def divergence(path, layers: list) -> None:
    _save(divergence_figure(layers), path)


def firing_rates_figure(layers: list, chip: list, float_: list):
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(layers) + 2), 3.5))
    x = range(len(layers))
    ax.bar([i - 0.2 for i in x], float_, 0.4, label="float (checkpoint)")
    ax.bar([i + 0.2 for i in x], chip, 0.4, label="chip (fixed point)")
    ax.set_xticks(list(x), layers, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("spikes per neuron per step")
    ax.legend()
    fig.tight_layout()
    return fig


def firing_rates(path, layers: list, chip: list, float_: list) -> None:
    _save(firing_rates_figure(layers, chip, float_), path)


def utilisation_figure(per_profile: dict):
    """per_profile: {profile label: {layer: {limit: fraction}}}: one panel per profile, one group
    of bars per layer (the most any of its cores uses of each per-core limit)."""
    fig, axes = plt.subplots(len(per_profile), 1, squeeze=False,
                             figsize=(max(6, 0.5 * len(next(iter(per_profile.values()))) + 2), 2.8 * len(per_profile)))
    for ax, (label, layers) in zip(axes[:, 0], per_profile.items()):
        names = list(layers)
        limits = list(next(iter(layers.values())))
        width = 0.8 / len(limits)
        for j, k in enumerate(limits):
            ax.bar([i + (j - (len(limits) - 1) / 2) * width for i in range(len(names))],
                   [100 * layers[n][k] for n in names], width, label=k.replace("_", " "))
        ax.axhline(100, color="k", lw=0.8, ls="--")
        top = max(100 * v for l in layers.values() for v in l.values())
        ax.set_ylim(0, 1.3 * max(100, top))         # room for the legend above the 100% line
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("% of per-core limit")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7, ncol=len(limits))
    fig.tight_layout()
    return fig


def utilisation(path, per_profile: dict) -> None:
    _save(utilisation_figure(per_profile), path)
