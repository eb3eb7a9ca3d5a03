"""simulate/report.py and chip/counts.py: the report's energy figures, checked against counts
derived independently of it: syops-counter and NeuroBench run themselves on the checkpoint, the
chip simulator run here on the quantised program, the ANN's MACs by hand."""
import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import torch

from torch.utils.data import DataLoader, TensorDataset

from spikefold.compile.executor import GraphNet
from spikefold.compile.pipeline import lower
from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING
from spikefold.chip.program import HostLayer, NeuronLayer, Program, SynapseLayer
from spikefold.deploy.quantize import quantize
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.simulate import report
from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.simulate.engine import Simulator
from spikefold.chip.counts import ChipAccumulator

ROOT = Path(__file__).resolve().parents[2]


def tiny_program():
    z = np.zeros((1, 2, 2), np.int64)
    neurons = {"h": NeuronLayer((1, 2, 2), z + 4095, z, z + 1, z, z, 0, 1.0),
               "o": NeuronLayer((2,), np.full(2, 4095), np.zeros(2, np.int64), np.ones(2, np.int64),
                                np.zeros(2, np.int64), np.zeros(2, np.int64), 1, 1.0)}
    syn = {"d": SynapseLayer("dense", "h", "o", np.full((2, 4), 3), 0, (1, 1), (0, 0), (1, 2, 2), (2,)),
           "ro": SynapseLayer("dense", "o", "readout", np.eye(2, dtype=np.int64), 0, (1, 1), (0, 0), (2,), (2,))}
    host = HostLayer("conv", np.ones((1, 1, 1, 1)), (1, 1), (0, 0), (1, 2, 2), (1, 2, 2), 100.0, "h")
    return Program(host, neurons, syn, ("ro",), 1.0, np.zeros(2), 2, 2, (1, 2, 2))


def test_chip_variants_on_a_tiny_program():
    p = tiny_program()
    x = torch.tensor([[[[1.0, 0.0], [0.0, 2.0]]]])   # two pixels drive their neurons above vth
    sim = Simulator(p)
    full, window = sim.run(x, mode="full"), sim.run(x, mode="window")
    acc = ChipAccumulator(p)
    acc.add(full)
    o = acc.result()
    assert o["rates"]["h"] == 0.5                     # 2 of 4 neurons fire on each of T = 2 steps
    # as deployed: T + depth = 4 steps, all 6 neurons every step; streamed: T = 2 steps each
    assert o["as_deployed"]["steps"] == 4 and o["as_deployed"]["neuron_updates"] == 6 * 4
    assert o["streamed"]["steps"] == 2 and o["streamed"]["neuron_updates"] == 6 * 2
    for k in ("synaptic_events", "neuron_updates", "active_updates", "spikes"):
        assert o["as_deployed"][k] == full.counts["total"][k] and o["streamed"][k] == window.counts["total"][k]
    assert o["host_macs"] == 4                        # once per static image
    assert torch.equal(full.readout, window.readout)
    assert o["streamed"]["run"] == "measured"


def test_streamed_figures_of_a_recurrent_program_are_labelled_assumed():
    p = tiny_program()
    rec = SynapseLayer("dense", "o", "o", np.eye(2, dtype=np.int64), 0, (1, 1), (0, 0), (2,), (2,))
    p = Program(p.host, p.neurons, {**p.synapses, "rec": rec}, p.readout, 1.0, np.zeros(2), 2, 2, (1, 2, 2))
    acc = ChipAccumulator(p)
    acc.add(Simulator(p).run(torch.ones(1, 1, 2, 2)))
    assert acc.result()["streamed"]["run"].startswith("assumed: the program cannot stream (recurrent synapse layers (rec)")


@pytest.mark.exact
@pytest.mark.parametrize("neuron", ["lif", "staa"])
def test_one_full_run_counts_the_window_run(neuron, lif_ckpt, staa_ckpt, digits_test):
    """The streamed variant's counts come from the deployed (full) run's steps inside each layer's
    window: equal, layer by layer and per step, to what a separate window run counts."""
    model, _ = model_from_checkpoint(lif_ckpt if neuron == "lif" else staa_ckpt)
    x = digits_test[0][:32]
    calib = [digits_test[0][32:96]]
    cfg = model.cfg
    program = quantize(lower(model, (cfg.in_channels, cfg.input_size, cfg.input_size), "calibrated", calib))
    sim = Simulator(program)
    full, window = sim.run(x, mode="full"), sim.run(x, mode="window")
    derived = full.counts["window"]
    assert derived["total"]["spikes"] > 0
    for k in ("spikes", "synaptic_events", "neuron_updates", "active_updates"):
        assert derived["total"][k] == window.counts["total"][k], k
    for name, layer in window.counts["layers"].items():
        d = derived["layers"][name]
        assert torch.equal(d["fired"], layer["fired"]) and torch.equal(d["active_per_step"], layer["active_per_step"])
        assert d["events_per_step"].keys() == layer["events_per_step"].keys()
        assert all(torch.equal(d["events_per_step"][s], e) for s, e in layer["events_per_step"].items())


def test_report_energy_equals_independent_counts_times_the_constants(lif_ckpt, digits_test, tmp_path):
    argv = [str(lif_ckpt), "--out", str(tmp_path / "rep"), "--samples", "100", "--quiet"]
    assert report.main(argv) == 0
    r = json.loads((tmp_path / "rep" / "report.json").read_text())
    for f in ("report.md", "accuracy.png", "firing_rates.png", "energy.png"):
        assert (tmp_path / "rep" / f).stat().st_size > 500
    assert r["float_device"] in ("cpu", "cuda") and r["samples"] == 100
    assert set(r["accuracy"]) == {"float", "folded", "chip"} and all(v > 50 for v in r["accuracy"].values())
    o, e = r["operations_per_inference"], {k: v["pj"] for k, v in r["energy"].items()}
    # every convention names its network; (a), (b), (d), (e) on the network as built
    chip_rows = {f"{p}_{v}" for p in ("loihi", "loihi_sanafe", "loihi2") for v in ("deployed", "streamed")}
    assert chip_rows <= set(e)
    assert {v["network"] for k, v in r["energy"].items() if k not in chip_rows} == {
        "network as built (PyTorch, before folding)", "network as built, conv and linear layers as an ANN",
        "network as built (PyTorch, before folding), NeuroBench effective counts"}
    assert all(r["energy"][k]["network"].startswith("deployed fixed-point program") for k in chip_rows)
    # (a), (b): syops-counter and NeuroBench themselves, on the checkpoint and the same 100 inputs
    model, _ = model_from_checkpoint(lif_ckpt)
    x, y = digits_test[0][:100], digits_test[1][:100]
    if find_spec("syops") and find_spec("neurobench"):     # the counters extra and lava.txt (3.11)
        from spikefold.simulate.counters.peers import neurobench_metrics, syops_per_module
        syops = syops_per_module(model, x)
        acs, macs = sum(v[1] for v in syops.values()), sum(v[2] for v in syops.values())
        assert acs > 1000
        assert e["syops_45nm"] == pytest.approx(macs * 4.6 + acs * 0.9, rel=1e-9)
        nb = neurobench_metrics(model, DataLoader(TensorDataset(x, y), 64))["SynapticOperations"]
        assert e["effective_45nm"] == pytest.approx(nb["Effective_MACs"] * 4.6 + nb["Effective_ACs"] * 0.9,
                                                    rel=1e-9)
    # (d) is digitnet's real conv and linear layers, by hand: at 8x8, 1->16 and 16->32 (3x3); pool;
    # at 4x4, 32->64 (3x3); pool; linear 64*2*2 -> 10 (the folded program's kernels are 4x larger)
    ann = 64 * 9 * 16 + 64 * 16 * 9 * 32 + 16 * 32 * 9 * 64 + 256 * 10
    assert o["ann"]["macs"] == ann == 601_600
    assert e["ann_45nm"] == pytest.approx(ann * 4.6)
    assert e["ann_int8_45nm"] == pytest.approx(ann * 0.23)
    assert e["ann_memory_45nm"] > e["ann_45nm"] + ann * 2 * 10 - 1
    # the chip's counts: the simulator run here on the program quantised from the checkpoint
    graph = lower(model, (1, 8, 8), "none")
    program = quantize(graph)
    sim = Simulator(program)
    # the divergence table: the folded graph's spikes against the chip's, counted here
    chip_spikes = sim.run(x, record=True).spikes
    net = GraphNet(graph).eval()
    with torch.no_grad():
        net(x, record=True)
    rows = {row["layer"]: row for row in r["divergence"]["layers"]}
    assert set(rows) == {k for k, l in program.neurons.items() if not l.relay}
    for name, (s, _) in net.record.items():
        start = program.neurons[name].start
        same = (s.bool() == chip_spikes[name][start:start + program.timesteps]).double().mean()
        assert rows[name]["folded_vs_chip"] == pytest.approx(100 * float(same), abs=1e-9)
        assert rows[name]["checkpoint_vs_folded"] == 100.0           # a LIF net folds exactly
    runs = {"deployed": sim.run(x).counts["total"], "streamed": sim.run(x, mode="window").counts["total"]}
    for variant in ("deployed", "streamed"):
        c = {k: v / 100 for k, v in runs[variant].items() if isinstance(v, (int, float))}
        c["inactive_updates"] = c["neuron_updates"] - c["active_updates"]
        assert o["chip"]["as_deployed" if variant == "deployed" else "streamed"]["synaptic_events"] == \
            pytest.approx(c["synaptic_events"])
        m = r["chip_mapping"]["loihi"]["as_deployed" if variant == "deployed" else "streamed"]
        row = r["energy"][f"loihi_{variant}"]
        # dynamic: the simulator's events and updates at Davies 2018 Table 2's figures, plus routing
        assert m["counts"]["synaptic_events"] == pytest.approx(c["synaptic_events"])
        routing = row["split_pj"]["dynamic"] - (c["synaptic_events"] * 23.6 + c["active_updates"] * 81 +
                                                c["inactive_updates"] * 52)
        assert 0 <= routing < 0.5 * row["split_pj"]["dynamic"]
        # static: Frady 2020's 104.4 mW per chip over the modelled time; host: first layer at 4.6 pJ/MAC
        chips = r["chip_mapping"]["loihi"]["chips"]
        assert row["split_pj"]["static"] == pytest.approx(104.4 * chips * m["time_ns"])
        reset = 5.94e6 * chips if variant == "deployed" else 0.0
        assert row["split_pj"]["host"] == pytest.approx(runs[variant]["host_macs"] / 100 * 4.6 + reset)
        assert e[f"loihi_{variant}"] == pytest.approx(sum(row["split_pj"].values()))
    assert (tmp_path / "rep" / "chip_utilisation.png").stat().st_size > 500
    be = r["break_even_rate"]
    assert set(be["ann_45nm"]) == {"syops_45nm", "effective_45nm", "memory_45nm"} | chip_rows
    assert o["chip"]["as_deployed"]["neuron_updates"] > o["chip"]["streamed"]["neuron_updates"]
    assert r["ann_over_snn_energy"]["syops_45nm"] == pytest.approx(e["ann_45nm"] / e["syops_45nm"])
    assert r["energy_constants_pj"] == ENERGY_PJ
    assert all(0 < v["chip"] < 1 and 0 < v["float"] < 1 for v in r["firing_rates"].values())
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "float checkpoint, PyTorch on CPU" in md or r["float_device"] == "cuda"
    assert "| folded (calibrated) here, not fine-tuned (NIR, float) |" in md


def test_demo_runs_end_to_end_small(tmp_path):
    r = subprocess.run([sys.executable, "-m", "spikefold.demo", "--epochs", "2", "--static-epochs", "1", "--finetune-epochs", "1",
                        "--lava-samples", "2", "--out", str(tmp_path / "demo")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[5/5] done" in r.stdout
    assert ("identical on 2/2" in r.stdout) if LAVA else (f"skipped: {LAVA_MISSING}" in r.stdout)
    assert (tmp_path / "demo" / "report" / "report.json").is_file()
    r = json.loads((tmp_path / "demo" / "report" / "report.json").read_text())
    dyn = r["dynamic_attention"]          # the dynamic STAA's accuracy, beside the deployed network's
    assert dyn["epochs"] == 2 and dyn["static_epochs"] == 1 and 0 <= dyn["accuracy"] <= 100
    md = (tmp_path / "demo" / "report" / "report.md").read_text()
    assert f"| dynamic STAA (the paper's attention" in md and f"{dyn['accuracy']:.2f}%" in md


def test_report_folds_a_checkpoint_as_to_nir_does(staa_ckpt, tmp_path):
    """Issue 41: one fold.  A dynamic STAA (its attention folded with calibrated constants) reported
    without a NIR file describes the graph `to_nir` writes: the same folded and chip accuracies,
    and the same chip counts, as the report given to_nir's file."""
    from spikefold.compile import to_nir
    assert to_nir.main([str(staa_ckpt), "-o", str(tmp_path / "m.nir"), "--quiet"]) == 0
    runs = {}
    for name, extra in (("own", []), ("file", ["--nir", str(tmp_path / "m.nir")])):
        argv = [str(staa_ckpt), "--out", str(tmp_path / name), "--samples", "150", "--quiet", *extra]
        assert report.main(argv) == 0
        runs[name] = json.loads((tmp_path / name / "report.json").read_text())
    own, file = runs["own"], runs["file"]
    assert own["accuracy"] == file["accuracy"]
    assert own["operations_per_inference"] == file["operations_per_inference"]
