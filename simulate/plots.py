"""The report's figures (matplotlib, PNG): firing rates per layer, energy per inference, accuracy."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def firing_rates(path, layers: list, chip: list, float_: list) -> None:
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(layers) + 2), 3.5))
    x = range(len(layers))
    ax.bar([i - 0.2 for i in x], float_, 0.4, label="float (checkpoint)")
    ax.bar([i + 0.2 for i in x], chip, 0.4, label="chip (fixed point)")
    ax.set_xticks(list(x), layers, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("spikes per neuron per step")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def _bars(path, labels: list, values: list, ylabel: str, log: bool = False, bottom: float | None = None,
          size=(6, 3.5)) -> None:
    """One bar per value, each labelled with its value."""
    fig, ax = plt.subplots(figsize=size)
    ax.bar(labels, values, color=[f"C{i}" for i in range(len(labels))])
    if log:
        ax.set_yscale("log")
    if bottom is not None:
        ax.set_ylim(bottom, 100)
    ax.set_ylabel(ylabel)
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.3g}" if log else f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def energy(path, labels: list, microjoules: list) -> None:
    _bars(path, [label.replace(" ", "\n", 1) for label in labels], microjoules,
          "energy per inference (µJ)", log=True, size=(7, 3.8))


def accuracy(path, labels: list, values: list) -> None:
    _bars(path, labels, values, "test accuracy (%)", bottom=max(0.0, min(values) - 5), size=(5, 3.2))


def utilisation(path, per_profile: dict) -> None:
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
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)
