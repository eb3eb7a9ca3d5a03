"""NIR files: metadata, an exact round trip, and the LIF checkpoint reproduced spike for spike."""
import json

import nir
import numpy as np
import pytest
import torch

from spikefold.compile.executor import GraphNet
from spikefold.compile.agreement import TIE64, outputs_agree, spike_agreement
from spikefold.compile.measure import compare, record_spikes
from spikefold.compile.nir_io import DT, NIRFormatError, read_nir, to_nir, write_nir
from spikefold.compile.nodes import Conv2d, Input, LIF, Output
from spikefold.compile.passes import fold_neuron_gain
from spikefold.compile.pipeline import lower
from spikefold.models.checkpoint import model_from_checkpoint

pytestmark = pytest.mark.exact   # float results compared for equal spikes: rerun on another machine's kernels (Makefile)


def test_lif_parameters_in_nir_terms(build, tmp_path):
    # v = 0.25 v' + I  ->  tau = dt / 0.75, r = 1, weights / 0.75
    conv = Conv2d(np.full((1, 1, 1, 1), 3.0), np.full(1, 1.5), (1, 1), (0, 0), (1, 2, 2))
    g = build.graph([("in", Input((1, 2, 2))), ("conv", conv),
                     ("lif", LIF(np.full(1, 0.25), np.ones(1), 1.0, (1, 2, 2))), ("out", Output((1, 2, 2)))])
    n = to_nir(g)
    assert np.allclose(n.nodes["lif"].tau, DT / 0.75) and np.all(n.nodes["lif"].r == 1)
    assert n.nodes["lif"].tau.shape == (1, 2, 2)
    assert np.allclose(n.nodes["conv"].weight, 4.0) and np.allclose(n.nodes["conv"].bias, 2.0)
    write_nir(g, tmp_path / "m.nir", {"extra": "kept"})
    info = json.loads(nir.read(tmp_path / "m.nir").metadata["spikefold"])
    assert info["dt"] == DT and info["timesteps"] == 4 and info["extra"] == "kept"
    assert "forward Euler" in info["discretisation"] and info["spike_rule"] == "v >= v_threshold"
    back = fold_neuron_gain(read_nir(tmp_path / "m.nir"))
    assert np.allclose(back.nodes["lif"].leak, 0.25, rtol=0, atol=1e-15)
    assert np.allclose(back.nodes["conv"].weight, 3.0, rtol=1e-15) and back.meta["timesteps"] == 4


def test_gain_must_be_folded_before_writing(build):
    g = build.graph([("in", Input((1, 2, 2))), ("conv", build.conv(1, 1, (1, 2, 2))),
                     ("lif", build.lif((1, 2, 2), 0.5, 0.5)), ("out", Output((1, 2, 2)))])
    with pytest.raises(ValueError, match="fold_neuron_gain"):
        to_nir(g)


def test_foreign_and_damaged_files_are_refused(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(NIRFormatError, match=r"bad\.nir: not a NIR file"):
        read_nir(bad)
    foreign = tmp_path / "foreign.nir"
    nir.write(foreign, nir.NIRGraph.from_list(nir.Input(np.array([2])), nir.Affine(np.eye(2), np.zeros(2)),
                                              nir.Output(np.array([2]))))
    with pytest.raises(NIRFormatError, match="foreign.nir: no spikefold metadata"):
        read_nir(foreign)


def test_lif_checkpoint_round_trip_reproduces_every_spike(lif_ckpt, digits_test, tmp_path, float64):
    """Done-when of the compile issue: the NIR file read back gives the checkpoint's spikes at every
    layer and timestep on the digits test split, both run in float64 and compared tie-aware
    (spikefold.compile.agreement: a spike within TIE64 of its threshold may differ, and what it
    feeds is not compared), and the clean samples' logits to 1e-9."""
    model, _ = model_from_checkpoint(lif_ckpt)
    assert next(model.parameters()).dtype == torch.float64
    graph = lower(model, (1, 8, 8), "none")
    write_nir(graph, tmp_path / "lif.nir")
    back = read_nir(tmp_path / "lif.nir")
    x, y = digits_test
    m = compare(model, {"nir": back}, [(x.double(), y)], near=TIE64)
    per = m["spike_agreement"]["nir"]
    assert len(per) == 3 and sum(d["positions"] for d in per.values()) == 450 * 4 * (16 + 32 + 16) * 64
    print(f"\nLIF round trip: {sum(d['differ'] for d in per.values())} differing spike positions, "
          f"{sum(d['ties'] for d in per.values())} of them ties, {sum(d['far'] for d in per.values())} far")
    assert sum(d["far"] for d in per.values()) == 0
    assert sum(d["ties"] for d in per.values()) <= 4            # 1% of the samples at most
    assert m["accuracy"]["model"] > 80
    logits, ref = record_spikes(model, x.double())
    net = GraphNet(back)
    with torch.no_grad():
        out = net(x.double(), record=True)
    a = spike_agreement(((n, ref[back.nodes[n].source], s, v, back.nodes[n].v_th)
                         for n, (s, v) in net.record.items()), TIE64)
    assert a.holds() and outputs_agree(out, logits, a, atol=1e-9), str(a)


@pytest.mark.parametrize("field, value", [("stride", 1.5), ("dilation", 1.5), ("padding", 0.7)])
def test_conv_fields_that_must_be_whole_numbers_are_refused(tmp_path, field, value):
    """Issue 42: a stride of 1.5 is no stride; it was truncated and run."""
    kw = {"stride": np.array([1, 1]), "dilation": np.array([1, 1]), "padding": np.array([0, 0]),
          field: np.array([value, value])}
    conv = nir.Conv2d(input_shape=np.array([4, 4]), weight=np.ones((2, 1, 3, 3)), bias=np.zeros(2), groups=1, **kw)
    g = nir.NIRGraph.from_list(nir.Input(np.array([1, 4, 4])), conv, nir.Output(conv.output_type["output"]))
    nir.write(tmp_path / "c.nir", g)
    with pytest.raises(NIRFormatError, match=rf"node .*: {field} \[{value}, {value}\] must be whole numbers"):
        read_nir(tmp_path / "c.nir", dt=1e-3, timesteps=2)
