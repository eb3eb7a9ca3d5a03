"""spikefold's conventions (a) and (b) against syops-counter 0.0.5 and NeuroBench 2.3.0 run
themselves on the same networks and the same spikes: equal per layer."""
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from spikefold.models.backbones import build_model
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.config import ModelConfig
from spikefold.simulate.counters.network import bernoulli_neurons, count, footprint_bytes
pytest.importorskip("syops", reason="syops is not installed: the optional `counters` extra")
pytest.importorskip("neurobench", reason="neurobench is not installed: requirements/lava.txt (3.11)")
from spikefold.simulate.counters.peers import neurobench_metrics, syops_per_module  # noqa: E402


@pytest.mark.parametrize("arch,neuron", [("digitnet", "lif"), ("digitnet", "staa"), ("digitnet", "fsta"),
                                         ("digitnet", "sma"), ("res20m", "lif"), ("res20m", "staa"),
                                         ("vgg13", "lif"), ("vgg13", "staa")])
def test_syops_convention_equals_syops_counter_per_layer(arch, neuron):
    size, ch, classes = (8, 1, 10) if arch == "digitnet" else (32, 3, 100)
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, neuron=neuron, num_classes=classes, in_channels=ch,
                                    input_size=size, timesteps=4)).eval()
    x = torch.rand(2, ch, size, size)
    hooks = bernoulli_neurons(model, 0.15, seed=1)            # the same spikes in both runs
    theirs = syops_per_module(model, x)
    for h in hooks:
        h.remove()
    hooks = bernoulli_neurons(model, 0.15, seed=1)
    ours = {r["layer"]: (r["syops_ops"], r["syops_acs"], r["syops_macs"]) for r in count(model, [x], 4).rows()}
    for h in hooks:
        h.remove()
    assert set(ours) == set(theirs)
    for name in theirs:
        assert ours[name] == pytest.approx(theirs[name], rel=1e-12, abs=1e-9), name
    assert sum(v[2] for v in theirs.values()) > 0 and sum(v[1] for v in theirs.values()) > 0


@pytest.mark.parametrize("kind", ["lif", "staa"])
def test_effective_convention_equals_neurobench(kind, lif_ckpt, staa_ckpt, digits_test):
    model, _ = model_from_checkpoint({"lif": lif_ckpt, "staa": staa_ckpt}[kind])
    x, y = digits_test
    loader = DataLoader(TensorDataset(x[:200], y[:200]), 64)
    theirs = neurobench_metrics(model, loader)
    c = count(model, [xb for xb, _ in loader], 4)
    ours = c.totals()
    syn = theirs["SynapticOperations"]
    assert ours["nb_macs"] == pytest.approx(syn["Effective_MACs"], rel=1e-9)
    assert ours["nb_acs"] == pytest.approx(syn["Effective_ACs"], rel=1e-9)
    assert ours["nb_dense"] == pytest.approx(syn["Dense"], rel=1e-9)
    assert syn["Effective_MACs"] > 0 and syn["Effective_ACs"] > 0
    assert ours["activation_sparsity"] == pytest.approx(theirs["ActivationSparsity"], rel=1e-12)
    assert theirs["Footprint"] == footprint_bytes(model)
    assert 0 < theirs["ActivationSparsity"] < 1
