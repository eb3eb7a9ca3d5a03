"""chip/placement.py and chip/cost.py: a program cut into cores, its traffic and its time and
energy, each derived by hand on programs small enough to count."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spikefold.compile.graph import Graph
from spikefold.compile.nodes import Conv2d, Flatten, Input, LIF, Linear, Output
from spikefold.chip.hardware import LOIHI, LOIHI2, LOIHI2_CARRYOVER, profiles_with_overrides
from spikefold.chip.placement import map_program
from spikefold.chip.tiling import shape3, weight_bits
from spikefold.deploy.quantize import quantize
from spikefold.chip.cost import ChipModel, barrier_ns
from spikefold.simulate.engine import Simulator
from spikefold.chip.counts import ChipAccumulator

ROOT = Path(__file__).resolve().parents[2]


def graph(c_a: int = 2, c_b: int = 3, hw: int = 4, timesteps: int = 2, seed: int = 0):
    """in (1, hw, hw) -> host conv -> A (c_a, hw, hw) -> conv 3x3 pad 1 -> B (c_b, hw, hw) -> fc -> 5."""
    rng = np.random.default_rng(seed)
    lif = lambda c, shape: LIF(np.full(c, 0.5), np.ones(c), 1.0, shape)
    nodes = {"in": Input((1, hw, hw)),
             "c0": Conv2d(rng.uniform(0.5, 1.5, (c_a, 1, 1, 1)), np.zeros(c_a), (1, 1), (0, 0), (c_a, hw, hw)),
             "a": lif(c_a, (c_a, hw, hw)),
             "c1": Conv2d(rng.normal(0, 0.5, (c_b, c_a, 3, 3)), np.zeros(c_b), (1, 1), (1, 1), (c_b, hw, hw)),
             "b": lif(c_b, (c_b, hw, hw)), "flat": Flatten((c_b * hw * hw,)),
             "fc": Linear(rng.normal(0, 0.5, (5, c_b * hw * hw)), np.zeros(5), (5,)), "out": Output((5,))}
    names = list(nodes)
    return Graph.build(nodes, list(zip(names[:-1], names[1:])), {"timesteps": timesteps})


def small(**figures):
    return LOIHI.with_overrides(figures)


def test_cut_by_hand():
    p = quantize(graph())
    # 16 neurons per core: A (2, 4, 4) fits in 2 cores of one channel; B (3, 4, 4) in 3, each of
    # which reads 2 channels x 4 x 4 = 32 source neurons (< 100 axons); the readout in 1
    m = map_program(p, small(neurons_per_core=16, input_axons=100))
    assert {n: (l["tile"], len(l["cores"])) for n, l in m.layers.items()} == {
        "a": ((1, 4, 4), 2), "b": ((1, 4, 4), 3), "readout": ((5, 1, 1), 1)}
    assert m.violations == () and len(m.cores) == 6 and m.chips == 1 and m.tiles == 2
    b = m.cores[m.layers["b"]["cores"][0]]
    bits = weight_bits(p.synapses["c1"].weight)
    # per output row, a 3-tap kernel with padding 1 has 2, 3, 3, 2 valid taps: 10 rows x 10 cols
    assert b.use == {"neurons": 16, "input_axons": 32, "synapse_bits": 1 * 2 * 10 * 10 * bits,
                     "output_axons": 16}           # 16 neurons, each reaching the one readout core
    a = m.cores[m.layers["a"]["cores"][0]]
    assert a.use["output_axons"] == 16 * 3        # each A neuron reaches all 3 channel cores of B
    # with Loihi 2's shared kernels the same core stores one kernel: 1 x 2 x 3 x 3 weights
    m2 = map_program(p, LOIHI2.with_overrides({"neurons_per_core": 16, "input_axons": 100}))
    assert m2.cores[m2.layers["b"]["cores"][0]].use["synapse_bits"] == 2 * 9 * bits
    # synaptic memory for 8 neurons of 2 x 3 x 3 weights each: B's boxes shrink to 8 neurons (6
    # cores); sharing the kernel, Loihi 2's cores keep their 16
    tight = {"neurons_per_core": 16, "input_axons": 100, "synaptic_memory_bits": 8 * 18 * bits}
    assert len(map_program(p, small(**tight)).layers["b"]["cores"]) == 6
    assert len(map_program(p, LOIHI2.with_overrides(tight)).layers["b"]["cores"]) == 3


def test_axon_limit_cuts_finer_and_a_layer_that_cannot_fit_is_named():
    p = quantize(graph())
    # 20 input axons: a box of B reads 2 x (hh + 2) x (ww + 2) sources at most (4 at the border):
    # only 1 x 1 boxes fit (2 x 3 x 3 = 18), so B takes one core per position, all 3 channels
    m = map_program(p, small(neurons_per_core=16, input_axons=20))
    assert m.layers["b"]["tile"] == (3, 1, 1) and len(m.layers["b"]["cores"]) == 16
    uses = [m.cores[i].use["input_axons"] for i in m.layers["b"]["cores"]]
    assert max(uses) == 18 and min(uses) == 8     # interior 2 x 3 x 3, corner 2 x 2 x 2
    # the readout reads all 48 of B's neurons: no core of 20 axons can hold it
    assert m.violations == ("layer readout (5, 1, 1): input axons: needs 48 per core, over the limit of 20",)
    assert m.utilisation()["readout"]["input_axons"] == pytest.approx(48 / 20)


def test_traffic_equals_a_brute_force_count():
    p = quantize(graph(c_a=3, c_b=4, hw=6))
    m = map_program(p, small(neurons_per_core=10, input_axons=60))
    s = p.synapses["c1"]
    fired = np.random.default_rng(1).integers(0, 4, s.in_shape).astype(float)
    events, messages = m.traffic("c1", fired)
    messages = messages.toarray()
    src, dst = m.layers["a"]["cores"], m.layers["b"]["cores"]
    for j, g in enumerate(dst):                    # synapses from each source neuron into core g
        c0, c1, h0, h1, w0, w1 = m.cores[g].box
        mask = torch.zeros(1, *s.out_shape, dtype=torch.float64)
        mask[0, c0:c1, h0:h1, w0:w1] = 1
        size = (s.in_shape[1], s.in_shape[2])
        reach = F.conv_transpose2d(mask, torch.ones(s.weight.shape, dtype=torch.float64), None, s.stride,
                                   s.padding, output_padding=(0, 0))[0, :, :size[0], :size[1]].numpy()
        assert events[j] == pytest.approx((fired * reach).sum())
        for i, k in enumerate(src):
            a0, a1, b0, b1, d0, d1 = m.cores[k].box
            assert messages[i, j] == pytest.approx((fired * (reach > 0))[a0:a1, b0:b1, d0:d1].sum())
    # and over all cores the events are the simulator's structural fan-out
    sim = Simulator(p)
    assert events.sum() == pytest.approx(float((torch.as_tensor(fired) * sim.fanout["c1"]).sum()))


def one_spiker():
    """in (1, 1, 2) -> host 1x1 conv (weight 1) -> A (1, 1, 2) -> fc [1, 1] -> out; T = 2."""
    nodes = {"in": Input((1, 1, 2)), "c0": Conv2d(np.ones((1, 1, 1, 1)), np.zeros(1), (1, 1), (0, 0), (1, 1, 2)),
             "a": LIF(np.full(1, 0.5), np.ones(1), 1.0, (1, 1, 2)), "flat": Flatten((2,)),
             "fc": Linear(np.ones((1, 2)), np.zeros(1), (1,)), "out": Output((1,))}
    names = list(nodes)
    return quantize(Graph.build(nodes, list(zip(names[:-1], names[1:])), {"timesteps": 2}))


def test_step_time_and_energy_by_hand():
    p = one_spiker()
    sim, acc = Simulator(p), ChipAccumulator(p)
    x = torch.tensor([[[[2.0, 0.0]]]])              # neuron 0 driven above threshold, neuron 1 silent
    full = sim.run(x, mode="full")
    assert full.counts["layers"]["a"]["spikes"] == 2 and p.steps == 3
    acc.add(full)
    m = map_program(p, LOIHI)
    assert len(m.cores) == 2 and m.tiles == 1 and barrier_ns(m) == 113
    c = ChipModel(p, m, acc).cost("as_deployed")
    # step 0: A updates neuron 0 active (8.4 ns) and neuron 1 inactive (5.3 ns); step 1 the same,
    # while the readout core takes step 0's spike (3.5 ns); step 2: A idle (2 x 5.3), readout 3.5.
    # Every step adds the route A -> readout inside one tile (2.1 ns) and the 1-tile barrier (113 ns)
    assert c["time_ns"] == pytest.approx((13.7 + 2.1 + 113) * 2 + (10.6 + 2.1 + 113))
    assert c["counts"]["synaptic_events"] == 2 and c["counts"]["spike_messages"] == 2
    assert c["counts"]["active_updates"] == 2 and c["counts"]["inactive_updates"] == 4
    assert c["split_pj"]["dynamic"] == pytest.approx(2 * 23.6 + 2 * 81 + 4 * 52 + 2 * 1.7)
    assert c["split_pj"]["static"] == pytest.approx(104.4 * c["time_ns"])
    assert c["split_pj"]["host"] == pytest.approx(2 * 4.6 + 5.94e6)   # 2 host MACs, one chip reset
    s = ChipModel(p, m, acc).cost("streamed")    # T = 2 steps, no reset
    assert s["steps"] == 2 and s["split_pj"]["host"] == pytest.approx(2 * 4.6)


def test_tile_hops_priced_from_the_placement():
    p = one_spiker()
    acc = ChipAccumulator(p)
    x = torch.tensor([[[[2.0, 0.0]]]])
    acc.add(Simulator(p).run(x, mode="full"))
    # one core per tile, 2 tiles per mesh row: A at (0, 0), the readout at (1, 0): one E-W hop
    m = map_program(p, LOIHI.with_overrides({"cores_per_tile": 1, "mesh_tiles_x": 1}))
    assert [(c.x, c.y) for c in m.cores] == [(0, 0), (0, 1)]       # one tile per row: N-S
    c = ChipModel(p, m, acc).cost("as_deployed")
    assert c["counts"]["hops_ns"] == 2 and c["counts"]["hops_ew"] == 0
    assert c["step_ns"]["route"] == pytest.approx(2.1 + 6.5)


def test_break_even_rate_reprices_the_same_run():
    p = one_spiker()
    acc = ChipAccumulator(p)
    x = torch.tensor([[[[2.0, 0.0]]]])
    acc.add(Simulator(p).run(x, mode="full"))
    model = ChipModel(p, map_program(p, LOIHI), acc)
    e1 = model.cost("streamed")["pj"]
    b = model.break_even("streamed", e1, measured_rate=0.5)
    assert b["verdict"] == "below" and b["rate"] == pytest.approx(0.5, rel=1e-6)
    assert model.break_even("streamed", model.cost("streamed", 0.0)["pj"] * 0.5, 0.5)["verdict"] == "never"


def test_overrides_are_marked_and_bad_ones_refused():
    prof = profiles_with_overrides(["loihi2.synop_pj=5", "static_mw_per_chip=1"])
    assert prof["loihi2"]["synop_pj"] == 5 and prof["loihi"]["synop_pj"] == 23.6
    assert prof["loihi"].static_mw_per_chip.assumed and "set by the user" in prof["loihi"].static_mw_per_chip.source
    for bad in (["synop_pj"], ["synop_pj=-1"], ["synop_pj=nan"], ["nosuch=1"], ["loihi3.synop_pj=1"]):
        with pytest.raises(ValueError):
            profiles_with_overrides(bad)


def test_every_published_figure_names_its_source():
    for prof in (LOIHI, LOIHI2):
        for k, f in prof.figures().items():
            assert f.unit and f.source, k
            assert f.assumed or f.fitted or any(s in f.source for s in ("Davies 2018", "Frady 2020", "Intel 2021",
                                                                          "Intel 2023")), k
            assert not f.fitted or "PilotNet LIF" in f.fitted, k     # the measurement it was fitted on


def test_map_cli(tmp_path):
    from spikefold.compile.nir_io import write_nir
    nir = tmp_path / "g.nir"
    write_nir(graph(), str(nir))
    run = lambda *a: subprocess.run([sys.executable, str(ROOT / "deploy" / "map.py"), str(nir), *a],
                                    capture_output=True, text=True, cwd=tmp_path)
    r = run("--profile", "loihi2", "--json", "m.json")
    assert r.returncode == 0, r.stderr
    assert "Loihi 2" in r.stdout and json.loads((tmp_path / "m.json").read_text())["cores"] == 3
    r = run("--chip-param", "synop_pj=x")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--chip-param" in r.stderr
    r = run("--chip-param", "static_mw_per_chip=1e308")          # issue 42: totals and plots overflowed
    assert r.returncode == 2 and r.stderr == "error: --chip-param static_mw_per_chip=1e+308: at most 1e+09 mW\n"


def test_shape3_and_bits():
    assert shape3((5,)) == (5, 1, 1) and shape3((2, 3, 4)) == (2, 3, 4)
    assert weight_bits(np.array([0, 255])) == 8 and weight_bits(np.array([-256, 3])) == 10
    assert weight_bits(np.array([1, -1])) == 2


def paper_program(arch: str):
    """STAA `arch` at CIFAR-100 shape, T = 4, as bench/chip_cost.py builds it."""
    from spikefold.compile.pipeline import lower
    from spikefold.simulate.counters.paper import paper_shaped
    model, calib = paper_shaped(arch)
    return quantize(lower(model, (3, 32, 32), "calibrated", [calib]))


@pytest.mark.slow
@pytest.mark.parametrize("arch, pinned", [
    ("res20m", {"loihi": (2780, 22, 0), "loihi2": (969, 8, 0), "loihi2_carryover": (748, 6, 0)}),
    ("vgg13", {"loihi": (5772, 46, 9), "loihi2": (2495, 20, 0), "loihi2_carryover": (2937, 23, 8)})])
def test_paper_networks_mapping_is_pinned(arch, pinned):
    """Loihi 2's limits fitted on Intel's PilotNet LIF placement (2,700 neurons, 16,384 axons a core)
    give res20m more cores than Loihi's figures carried over (8,192 neurons, 4,096 axons) and vgg13
    fewer (no fan-in violations to cut around)."""
    p = paper_program(arch)
    for prof in (LOIHI, LOIHI2, LOIHI2_CARRYOVER):
        m = map_program(p, prof)
        assert (len(m.cores), m.chips, len(m.violations)) == pinned[prof.name]
        # every neuron of every layer on exactly one core
        for name, l in m.layers.items():
            assert sum(m.cores[i].neurons for i in l["cores"]) == int(np.prod(l["shape"]))
        if arch == "vgg13" and prof["input_axons"] == 4096:
            # one neuron's fan-in alone exceeds 4,096 axons where a pool folds into a 6x6 stride-2
            # kernel (128 x 6 x 6, 256 x 6 x 6; 512 x 4 x 4 on a 2 x 2 input) and in a 3x3 conv
            # over 512 channels (512 x 9): named, never placed silently
            fan_in = {v.split(" ")[1]: v for v in m.violations if "input axons" in v}
            assert {k: int(v.split("needs ")[1].split(" ")[0].replace(",", "")) for k, v in fan_in.items()} == {
                "body_6_1": 128 * 36, "body_9_1": 256 * 36, "body_10_1": 512 * 9, "body_12_1": 512 * 16}


def sparse_graph(f_b: int = 8):
    """in (1, 4, 4) -> host conv -> A (2, 4, 4) -> flatten -> banded fc (each B neuron j reads
    sources j, j + 8, j + 16, j + 24: 4 of 32) -> B (8,) -> fc -> 3."""
    rng = np.random.default_rng(3)
    w = np.zeros((f_b, 32))
    for j in range(f_b):
        w[j, j::8] = rng.uniform(0.5, 1.5, 4)
    lif = lambda c, shape: LIF(np.full(c, 0.5), np.ones(c), 1.0, shape)
    nodes = {"in": Input((1, 4, 4)), "c0": Conv2d(np.full((2, 1, 1, 1), 1.5), np.zeros(2), (1, 1), (0, 0), (2, 4, 4)),
             "a": lif(2, (2, 4, 4)), "flat": Flatten((32,)), "band": Linear(w, np.zeros(f_b), (f_b,)),
             "b": lif(f_b, (f_b,)), "fc": Linear(rng.normal(0, 0.5, (3, f_b)), np.zeros(3), (3,)), "out": Output((3,))}
    names = list(nodes)
    return quantize(Graph.build(nodes, list(zip(names[:-1], names[1:])), {"timesteps": 2}))


def test_a_sparse_layer_stores_and_reaches_only_its_nonzero_weights():
    """A quarter-full matrix deploys as Lava's Sparse: a core of 2 B neurons needs the 8 sources
    with weights into it (Dense: all 32) and their 8 weights (Dense: 64); a source's spike goes
    to the one core holding its row and counts as 1 event (Dense: 8)."""
    p = sparse_graph()
    s = p.synapses["band"]
    assert s.kind == "sparse" and p.synapses["fc"].kind == "dense"
    m = map_program(p, small(neurons_per_core=2, input_axons=8))     # Dense's 32 axons would not fit
    bits = weight_bits(s.weight)
    assert m.layers["b"]["tile"] == (2, 1, 1) and m.violations == ()
    for i in m.layers["b"]["cores"]:
        assert m.cores[i].use["input_axons"] == 8 and m.cores[i].use["synapse_bits"] == 8 * bits
    fired = np.random.default_rng(1).integers(0, 4, s.in_shape).astype(float)
    events, messages = m.traffic("band", fired)
    messages = messages.toarray()
    flat = fired.reshape(-1)
    for j, g in enumerate(m.layers["b"]["cores"]):
        c0, c1 = m.cores[g].box[:2]
        reach = (s.weight[c0:c1] != 0).any(0)
        assert events[j] == pytest.approx(float(flat @ (s.weight[c0:c1] != 0).sum(0)))
        for i, k in enumerate(m.layers["a"]["cores"]):
            idx = np.arange(32).reshape(2, 4, 4)[slice(*m.cores[k].box[:2]), slice(*m.cores[k].box[2:4]),
                                                 slice(*m.cores[k].box[4:])].ravel()
            assert messages[i, j] == pytest.approx(float((flat * reach)[idx].sum()))
    # every A neuron reaches exactly one core of B: its output axons
    assert sum(m.cores[i].use["output_axons"] for i in m.layers["a"]["cores"]) == 32
    sim = Simulator(p)
    assert torch.equal(sim.fanout["band"], torch.ones(2, 4, 4, dtype=torch.float64))
    x = torch.rand(3, 1, 4, 4) * 2
    r = sim.run(x, record=True)
    spikes_a = float(r.spikes["a"].sum())
    assert spikes_a > 0 and r.counts["layers"]["a"]["synaptic_events"] == spikes_a
