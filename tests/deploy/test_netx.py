"""deploy/to_netx.py: the file loads in lava-dl netx, runs, and gives the fast simulator's spikes;
residual networks are refused by name."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

from lava.lib.dl.netx.hdf5 import Network
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIF

from spikefold.compile.nir_io import read_nir, write_nir
from spikefold.compile.pipeline import lower
from spikefold.deploy.lava_graph import from_lava_steps, lava_shape, run_netx_stream, source_data, to_lava
from spikefold.deploy.netx import NetxUnsupported, as_exported, chain
from spikefold.deploy.quantize import quantize
from spikefold.models.backbones import build_model
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.config import ModelConfig
from spikefold.chip.host import host_currents
from spikefold.simulate.engine import Simulator
from spikefold.simulate.netx_readout import netx_readout

ROOT = Path(__file__).resolve().parents[2]


def to_netx(*args):
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "to_netx.py"), *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def lif_nir(lif_ckpt, tmp_path_factory):
    model, _ = model_from_checkpoint(lif_ckpt)
    path = tmp_path_factory.mktemp("netx") / "lif.nir"
    write_nir(lower(model, (1, 8, 8), "none"), path)
    return path


def run_netx_file(path, program, x):
    """Lava's netx run of the exported file for one sample: every layer's spikes (the host-fed
    front included) and the readout layer's v after program.steps steps."""
    net = Network(net_config=str(path))
    src = Source(data=source_data(program, host_currents(program, x).numpy()[:, :1]))
    h = program.neurons[program.host.dst]
    front = LIF(shape=lava_shape(h.shape), du=to_lava(h.du), dv=to_lava(h.dv), vth=to_lava(h.vth),
                bias_mant=to_lava(h.bias_mant), bias_exp=to_lava(h.bias_exp))
    src.s_out.connect(front.a_in)
    front.s_out.connect(net.inp)
    sinks = []
    for port in [front.s_out] + [layer.out for layer in net.layers[:-1]]:
        sinks.append(Sink(shape=port.shape, buffer=program.steps))
        port.connect(sinks[-1].a_in)
    try:
        src.run(condition=RunSteps(num_steps=program.steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        got = [from_lava_steps(s.data.get()).astype(bool) for s in sinks]
        v = np.asarray(net.layers[-1].neuron.v.get()).reshape(-1)
    finally:
        src.stop()
    return len(net.layers), got, v


def test_netx_file_runs_in_netx_as_the_program_it_describes(lif_nir, digits_test, tmp_path):
    """The real exported file in Lava's netx against the real program: its spikes are those of
    as_exported(program) (every bias on from step 0), its readout's v is what to_netx measures
    accuracy with, and the deeper layers differ from the chip program's, which switches their
    biases on later: the schedule the file cannot carry."""
    r = to_netx(lif_nir, "-o", tmp_path / "lif.net")
    assert r.returncode == 0, r.stderr
    program = quantize(read_nir(lif_nir), netx=True)
    x = digits_test[0][:2]
    exported = Simulator(as_exported(program)).run(x, record=True)
    real = Simulator(program).run(x, record=True)
    differs = 0
    for b in range(len(x)):
        n_layers, got, v = run_netx_file(tmp_path / "lif.net", program, x[b:b + 1])
        assert n_layers == 3
        for name, spikes in zip(program.neurons, got):
            assert np.array_equal(spikes, exported.spikes[name][:, b].numpy()), name
            differs += int((spikes != real.spikes[name][:, b].numpy()).sum())
        assert sum(s.sum() for s in got) > 100
        assert np.array_equal(v, netx_readout(program, x[b:b + 1], reset=False)[0].numpy())
    assert differs > 0
    assert any(n.start > 0 for n in program.neurons.values())


def test_export_prints_the_exported_networks_own_accuracy(lif_nir, digits_test, tmp_path):
    r = to_netx(lif_nir, "-o", tmp_path / "lif.net", "--samples", "100", "--data", "digits", "--lava", "3")
    assert r.returncode == 0, r.stderr
    assert "lava-dl netx, the file streamed with its resets on 3 samples" in r.stdout
    assert "readout v equal to the measured one's on 3/3" in r.stdout
    program = quantize(read_nir(lif_nir), netx=True)
    assert f"reset_interval={program.timesteps}, reset_offset=1" in r.stdout
    x, y = digits_test[0][:100], digits_test[1][:100]
    acc = lambda pred: f"{float((pred == y).float().mean()) * 100:.2f}%"
    streamed, unreset = (netx_readout(program, x, reset).argmax(1) for reset in (True, False))
    chip = Simulator(program).run(x, mode="window").logits.mean(0).argmax(1)
    assert f"exported netx network {acc(streamed)} with resets" in r.stdout
    assert f"{acc(unreset)} without (every bias on from step 0); chip program {acc(chip)}" in r.stdout


def test_the_file_streamed_with_resets_is_the_chip_program(lif_nir, digits_test, tmp_path):
    """lava-dl netx, self-resetting neurons, 6 samples back to back: the readout's v at each
    sample's end is what netx_readout(reset=True) computes from the program in mode "window", and
    its predictions are the chip program's."""
    assert to_netx(lif_nir, "-o", tmp_path / "lif.net").returncode == 0
    program = quantize(read_nir(lif_nir), netx=True)
    x = digits_test[0][:6]
    v = run_netx_stream(tmp_path / "lif.net", program, x)
    assert np.array_equal(v, netx_readout(program, x, reset=True).numpy())
    chip = Simulator(program).run(x, mode="window").logits.mean(0).argmax(1)
    assert np.array_equal(v.argmax(1), chip.numpy())
    assert np.abs(v).sum() > 0


def test_residual_network_is_refused_by_name(tmp_path):
    torch_model = build_model(ModelConfig(arch="res20m", neuron="lif", num_classes=3, in_channels=1,
                                          input_size=16, timesteps=2)).eval()
    graph = lower(torch_model, (1, 16, 16), "none")
    with pytest.raises(NetxUnsupported, match=r"layer body_2_1: feeds 2 synapse layers \(a residual branch\)"):
        chain(quantize(graph, netx=True))
    write_nir(graph, tmp_path / "res.nir")
    r = to_netx(tmp_path / "res.nir", "-o", tmp_path / "res.net")
    assert r.returncode == 2 and "residual branch" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "res.net").exists()
