"""The digits networks on the chip: Lava and the fast simulator agree spike for spike, and the
chip's accuracy stays within a point of the float network's."""
import pytest
import torch

from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

from spikefold.compile.executor import GraphNet
from spikefold.compile.pipeline import lower
from spikefold.deploy.lava_graph import run_lava
from spikefold.deploy.quantize import quantize
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.data import load_dataset
from spikefold.simulate.engine import Simulator

SAMPLES = 10             # one at a time through Lava, ~1.7 s each


def lowered(ckpt):
    model, _ = model_from_checkpoint(ckpt)
    train = load_dataset("digits", None, True, 4)
    calib = [torch.stack([train[i][0] for i in range(128)])]
    return model, lower(model, (1, 8, 8), "calibrated", calib)


@pytest.mark.parametrize("kind", ["lif", "staa"])
def test_digits_lava_and_simulator_agree_on_every_spike(kind, lif_ckpt, staa_ckpt, digits_test):
    _, graph = lowered(lif_ckpt if kind == "lif" else staa_ckpt)
    program = quantize(graph)
    convs = [s.weight for s in program.synapses.values() if s.kind == "conv"]
    assert any((w % 2 == 1).any() and (w < 0).any() and (w > 0).any() for w in convs)  # odd mixed conv weights
    x = digits_test[0][:SAMPLES]
    sim = Simulator(program).run(x, record=True)
    ro, spikes = run_lava(program, x, record_spikes=True)
    assert set(spikes) == set(sim.spikes) and len(spikes) == 3
    for name in spikes:
        assert torch.equal(spikes[name].bool(), sim.spikes[name]), name
    assert torch.equal(ro, sim.readout)
    assert sim.counts["total"]["spikes"] > 500
    # the streamed variant's window mode reads out what Lava reads out, on a real program
    assert torch.equal(Simulator(program).run(x, mode="window").readout, ro)


@pytest.mark.parametrize("kind", ["lif", "staa"])
def test_chip_accuracy_within_a_point_of_float(kind, lif_ckpt, staa_ckpt, digits_test, capsys):
    model, graph = lowered(lif_ckpt if kind == "lif" else staa_ckpt)
    x, y = digits_test
    r = Simulator(quantize(graph)).run(x, mode="window")
    with torch.no_grad():
        acc_model = float((model(x).mean(0).argmax(1) == y).float().mean()) * 100
        acc_folded = float((GraphNet(graph)(x).mean(0).argmax(1) == y).float().mean()) * 100
    acc_chip = float((r.logits.mean(0).argmax(1) == y).float().mean()) * 100
    with capsys.disabled():
        print(f"\n{kind}: checkpoint {acc_model:.2f}%, folded float {acc_folded:.2f}%, "
              f"chip simulator {acc_chip:.2f}% ({len(y)} test samples)")
    assert abs(acc_chip - acc_folded) <= 1.0
    if kind == "lif":
        assert abs(acc_chip - acc_model) <= 1.0
