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
    fig.savefig(path, dpi=120)
    plt.close(fig)


def energy(path, labels: list, microjoules: list) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    labels = [label.replace(" ", "\n", 1) for label in labels]
    ax.bar(labels, microjoules, color=["C0", "C1", "C2", "C3"][: len(labels)])
    ax.set_yscale("log")
    ax.set_ylabel("energy per inference (µJ)")
    for i, v in enumerate(microjoules):
        ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def accuracy(path, labels: list, values: list) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(labels, values, color="C0")
    lo = max(0.0, min(values) - 5)
    ax.set_ylim(lo, 100)
    ax.set_ylabel("test accuracy (%)")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
