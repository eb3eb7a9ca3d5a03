"""FSTA and SMA networks, folded with calibration, on Lava: spike for spike equal to the simulator
(SMA's branches as dense synapses, its block's LIF and the layers after it flat: compile/passes/fold_sma.py)."""
import pytest
import torch
from torch import nn

from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

from spikefold.compile.pipeline import lower
from spikefold.deploy.lava_graph import run_lava
from spikefold.deploy.quantize import quantize
from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig
from spikefold.models.data import load_dataset
from spikefold.simulate.engine import Simulator


@pytest.mark.parametrize("neuron, layers", [("fsta", 3), ("sma", 7)])
def test_folded_family_runs_on_lava_as_simulated(neuron, layers, digits_test):
    torch.manual_seed(0)
    model = build_model(ModelConfig(neuron=neuron)).eval()
    with torch.no_grad():   # untrained, so give every layer some activity
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.bias.uniform_(0.0, 1.5)
    train = load_dataset("digits", None, True, 4)
    graph = lower(model, (1, 8, 8), "calibrated", [torch.stack([train[i][0] for i in range(64)])])
    program = quantize(graph)
    x = digits_test[0][:3]
    sim = Simulator(program).run(x, record=True)
    ro, spikes = run_lava(program, x, record_spikes=True)
    for name, s in spikes.items():
        assert torch.equal(s.bool(), sim.spikes[name]), name
    assert torch.equal(ro, sim.readout)
    assert sum(bool(s.any()) for s in sim.spikes.values()) >= 2 * len(sim.spikes) // 3   # most layers fire
    assert len(program.neurons) == layers
