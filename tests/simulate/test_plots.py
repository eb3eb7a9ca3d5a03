"""The report's pictures are legible and its divergence table is right: each plot built from a small
report has no overlapping tick labels (measured from matplotlib's own text extents) and writes a
PNG that opens; the per-layer agreement equals a count by hand with one known flipped spike."""
import itertools

import matplotlib.image
import numpy as np
import pytest
import torch

from spikefold.chip.program import HostLayer, NeuronLayer, Program, SynapseLayer
from spikefold.simulate import plots
from spikefold.simulate.divergence import Divergence

ENERGY = {
    "syops_45nm": {"label": "(a) syops-counter, 45 nm", "pj": 5.9e6},
    "effective_45nm": {"label": "(b) NeuroBench effective, 45 nm", "pj": 0.8e6},
    "memory_45nm": {"label": "(e) memory-aware SNN, 45 nm", "pj": 7.4e6},
    "ann_45nm": {"label": "(d) ANN FP32, 45 nm", "pj": 2.8e6},
    "ann_int8_45nm": {"label": "(d) ANN INT8, 45 nm", "pj": 0.14e6},
    "ann_memory_45nm": {"label": "(e) memory-aware ANN FP32, 45 nm", "pj": 14.8e6},
    **{f"{chip}_{v}": {"label": f"(c) {name}, {label}", "pj": pj,
                       "split_pj": {"dynamic": pj * 0.4, "static": pj * 0.5, "host": pj * 0.1}}
       for (chip, name), (v, label, pj) in itertools.product(
           [("loihi", "Loihi"), ("loihi2", "Loihi 2")],
           [("deployed", "as deployed", 33e6), ("streamed", "streamed", 19e6)])},
}
LAYERS = [{"layer": f"body_{i}_1", "neurons": 1024, "checkpoint_vs_folded": 100.0,
           "folded_vs_chip": 99.9 - i} for i in range(4)]


def overlapping(fig) -> list:
    """Pairs of tick labels (on any axis of fig) whose drawn boxes intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        for ticks in (ax.get_xticklabels(which="both"), ax.get_yticklabels(which="both")):
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ticks if t.get_text() and t.get_visible()]
            found += [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]
    return found


FIGURES = {
    "energy": lambda: plots.energy_figure(ENERGY),
    "accuracy": lambda: plots.accuracy_figure(["dynamic STAA", "float", "folded", "chip"],
                                              [98.9, 99.1, 99.1, 97.6], 450),
    "divergence": lambda: plots.divergence_figure(LAYERS),
    "firing_rates": lambda: plots.firing_rates_figure([l["layer"] for l in LAYERS], [0.1, 0.2, 0.1, 0.05],
                                                      [0.11, 0.2, 0.1, 0.06]),
    "utilisation": lambda: plots.utilisation_figure({"Loihi": {l["layer"]: {"neurons": 0.5, "input_axons": 0.2}
                                                               for l in LAYERS}}),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_each_plot_has_no_overlapping_tick_labels_and_opens(name, tmp_path):
    fig = FIGURES[name]()
    assert not overlapping(fig), overlapping(fig)
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=120, format="png")
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert float(image[..., :3].std()) > 0.05                     # not blank


def test_the_overlap_check_sees_an_overlap():
    """The check can fail: ten long labels on a narrow horizontal axis collide."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([f"a long label {i}" for i in range(10)], range(10))
    assert overlapping(fig)
    plt.close(fig)


def test_energy_plot_draws_the_ann_baselines_as_lines_and_stacks_the_chip():
    fig = plots.energy_figure(ENERGY)
    ax = fig.axes[0]
    lines = {round(l.get_xdata()[0], 4) for l in ax.get_lines()}
    assert lines == {2.8, 0.14}                                    # FP32 and INT8 ANN, µJ
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "(d) ANN FP32, 45 nm" not in labels and "(c) Loihi 2, streamed" in labels
    assert "chip, deployed program" in labels and "network as built, 45 nm" in labels
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths.count(round(19e6 * 0.5 / 1e6, 6)) == 2          # each streamed chip row: its static part


def test_wilson_interval():
    lo, hi = plots.wilson(99.11, 450)
    assert 97.6 < lo < 97.9 and 99.6 < hi < 99.8                   # by the formula: 97.74, 99.66
    assert plots.wilson(100.0, 10)[1] == 100.0


def tiny_program():
    z = np.zeros((1, 2, 2), np.int64)
    neurons = {"h": NeuronLayer((1, 2, 2), z + 4095, z, z + 1, z, z, 0, 1.0, source="body.lif0"),
               "o": NeuronLayer((2,), np.full(2, 4095), np.zeros(2, np.int64), np.ones(2, np.int64),
                                np.zeros(2, np.int64), np.zeros(2, np.int64), 1, 1.0, source="body.lif1")}
    syn = {"d": SynapseLayer("dense", "h", "o", np.full((2, 4), 3), 0, (1, 1), (0, 0), (1, 2, 2), (2,)),
           "ro": SynapseLayer("dense", "o", "readout", np.eye(2, dtype=np.int64), 0, (1, 1), (0, 0), (2,), (2,))}
    host = HostLayer("conv", np.ones((1, 1, 1, 1)), (1, 1), (0, 0), (1, 2, 2), (1, 2, 2), 100.0, "h")
    return Program(host, neurons, syn, ("ro",), 1.0, np.zeros(2), 2, 2, (1, 2, 2))


def test_divergence_counts_one_flipped_spike_by_hand():
    """T = 2, one sample: layer h (4 neurons, start 0), o (2 neurons, start 1).  The chip's o spikes
    sit one step later in its full run; one of h's chip spikes is flipped, one of the checkpoint's o
    spikes too: h folded vs chip 7/8, o checkpoint vs folded 3/4, the rest 100 %."""
    p = tiny_program()
    h = torch.tensor([[1, 0, 0, 1], [0, 1, 1, 0]], dtype=torch.bool).view(2, 1, 1, 2, 2)
    o = torch.tensor([[1, 0], [0, 1]], dtype=torch.bool).view(2, 1, 2)
    chip_h = torch.cat([h, torch.zeros(1, 1, 1, 2, 2, dtype=torch.bool)])     # steps 0..2
    chip_h[1, 0, 0, 0, 0] ^= True                                               # the flipped spike
    chip_o = torch.cat([torch.zeros(1, 1, 2, dtype=torch.bool), o])            # o starts at step 1
    model_o = o.clone()
    model_o[0, 0, 1] ^= True
    d = Divergence(p)
    d.add({"h": h, "o": o}, {"h": chip_h, "o": chip_o}, {"body.lif0": h, "body.lif1": model_o})
    rows = {r["layer"]: r for r in d.rows()}
    assert rows["h"]["folded_vs_chip"] == 100 * 7 / 8 and rows["h"]["checkpoint_vs_folded"] == 100.0
    assert rows["o"]["folded_vs_chip"] == 100.0 and rows["o"]["checkpoint_vs_folded"] == 100 * 3 / 4
    assert d.first_below() == {"layer": "h", "comparison": "folded_vs_chip", "agreement": 87.5}
    other = Divergence(p)
    other.merge(d.state())
    assert other.rows() == d.rows()
    assert Divergence(p).first_below() is None
