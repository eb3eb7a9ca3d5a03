"""The NIR forms issue 30 adds, each against NIR's equations stepped by hand in numpy (`nir_steps`,
written from nir 1.0.8's docstrings, not from spikefold's reader) and on Lava and the fast
simulator spike for spike: resting and reset potentials, grouped and dilated convolutions, pools of
any stride and padding, per-neuron delays, a Delay after a biased layer, a Delay on the layer the
input feeds, a bias into a CubaLIF's current, Rockpool's (1, T, F) input; and the refusals."""
import importlib.util
from pathlib import Path

import numpy as np
import nir
import pytest
import torch

from spikefold.compile.executor import GraphNet
from spikefold.compile.nir_io import NIRFormatError, from_nir, read_nir
from spikefold.deploy.quantize import quantize
from spikefold.simulate.engine import Simulator

pytestmark = pytest.mark.exact   # float results compared for equal spikes: rerun on another machine's kernels (Makefile)

_spec = importlib.util.spec_from_file_location("foreign_nir_helpers", Path(__file__).with_name("test_foreign_nir.py"))
_foreign = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_foreign)      # its graph builders (--import-mode=importlib: no sys.path entry)
DT, cuba, if_, lava_and_simulator_agree, lif, mlp, nir_steps = (getattr(_foreign, k) for k in (
    "DT", "cuba", "if_", "lava_and_simulator_agree", "lif", "mlp", "nir_steps"))


def graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def float_run(g, x, timesteps, record=True):
    net = GraphNet(from_nir(g, dt=DT, timesteps=timesteps), dtype=torch.float64)
    with torch.no_grad():
        out = net(torch.as_tensor(x, dtype=torch.float64), record=record)
    return net, out.numpy()


def chip_agreement(program, sim, net, layers, T):
    return {n: float((sim.spikes[n][program.neurons[n].start: program.neurons[n].start + T]
                      == net.record[n][0][:, :sim.spikes[n].shape[1]].bool()).float().mean()) for n in layers}


def potentials_mlp(rng, cuba_reset=False):
    """in -> fc0 -> IF (v_reset) -> fc1 -> LIF (v_leak, v_reset) -> fc2 -> CubaLIF (v_leak) -> fc3
    -> LIF (v_leak, v_reset, with a recurrent Affine) -> head -> out."""
    sizes = [6, 8, 7, 5, 6]
    nodes, edges = {"in": nir.Input(input_type={"input": np.array([6])})}, []
    kinds = [lambda h: if_(h, r=1.0 / DT), lambda h: lif(h, r=1.0), cuba, lambda h: lif(h, r=6.0)]
    prev = "in"
    for i, h in enumerate(sizes[1:]):
        nodes[f"fc{i}"] = nir.Affine(weight=rng.normal(0, 1.5, (h, sizes[i])), bias=rng.normal(0, 0.1, h))
        nodes[f"n{i}"] = n = kinds[i](h)
        if not isinstance(n, nir.IF):
            n.v_leak = rng.uniform(-0.4, 0.8, h)
        if not isinstance(n, nir.CubaLIF) or cuba_reset:
            n.v_reset = rng.uniform(-0.6, 0.5, h)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"n{i}")]
        prev = f"n{i}"
    nodes["r3"] = nir.Affine(weight=rng.normal(0, 0.6, (6, 6)), bias=np.zeros(6))
    nodes["head"] = nir.Affine(weight=rng.normal(0, 1, (3, 6)), bias=np.zeros(3))
    nodes["out"] = nir.Output(output_type={"output": np.array([3])})
    edges += [("n3", "r3"), ("r3", "n3"), ("n3", "head"), ("head", "out")]
    return graph(nodes, edges)


def test_resting_and_reset_potentials():
    """v_leak (a bias) and v_reset (reset to 0 in the frame v - v_reset, threshold and bias shifted,
    the start v = 0 a first-step kick: on the host for the first layer, from a pulse neuron that
    fires once for the others): the float graph equals NIR stepped by hand; Lava equals the
    simulator; the chip follows the float graph; the pulse fires once per sample."""
    rng = np.random.default_rng(30)
    g = potentials_mlp(rng)
    x = rng.uniform(0, 1.5, (24, 8, 6))
    ref = nir_steps(g, x.transpose(1, 0, 2), DT)
    net, out = float_run(g, x, 8)
    assert np.allclose(out, ref["out"], atol=1e-9)
    for n in ("n0", "n1", "n2", "n3"):
        assert np.array_equal(net.record[n][0].numpy(), ref[n]), n
        assert 0.02 < ref[n].mean() < 0.9, n
    program, sim = lava_and_simulator_agree(g, torch.as_tensor(x[:3], dtype=torch.float32))
    assert program.host.first is not None and any(k.startswith("initial_potential") for k in program.neurons)
    pulses = [k for k in program.neurons if k.startswith("initial_potential")]
    assert all(int(sim.spikes[k].sum()) == 3 for k in pulses)          # once per sample
    assert program.why_not_streamed().startswith("the pulse layers that give a reset potential its start")
    sim = Simulator(program).run(torch.as_tensor(x, dtype=torch.float32), record=True)
    agree = chip_agreement(program, sim, net, ("n0", "n1", "n2", "n3"), 8)
    # n3's weights are 3x its threshold at 7 bits (mixed signs): its quantisation alone costs 4 %
    assert min(agree[n] for n in ("n0", "n1", "n2")) > 0.995 and agree["n3"] > 0.9, agree
    # spike inputs: an input layer on the chip, so n0 (IF, v_reset) takes its start from a pulse
    from spikefold.deploy.lava_graph import run_lava
    from spikefold.deploy.added_nodes import spikes_on_chip
    xs = torch.as_tensor(x[:3] > 0.8, dtype=torch.float32)
    on_chip = spikes_on_chip(from_nir(g, dt=DT, timesteps=8))
    program = quantize(on_chip)
    assert program.host.first is None and "n0_initial" in program.synapses
    sim = Simulator(program).run(xs, record=True)
    ro, spikes = run_lava(program, xs, record_spikes=True)
    assert torch.equal(ro, sim.readout) and all(torch.equal(spikes[k].bool(), v) for k, v in sim.spikes.items())


def test_potentials_that_have_no_exact_form_are_refused():
    rng = np.random.default_rng(31)
    g = potentials_mlp(rng, cuba_reset=True)         # a CubaLIF with v_reset: its kick would stay in u
    graph_ = from_nir(g, dt=DT, timesteps=4)
    with pytest.raises(ValueError, match="node n2: a CubaLIF .*with v_reset != 0") as e:
        quantize(graph_)
    assert "\n" not in str(e.value)
    g = potentials_mlp(rng)
    g.nodes["n1"].v_reset = g.nodes["n1"].v_threshold + 0.1
    with pytest.raises(NIRFormatError, match="node n1: LIF v_threshold - v_reset must be > 0") as e:
        from_nir(g, dt=DT, timesteps=4)
    assert "\n" not in str(e.value)


def conv_graph(rng, side=7, pool2=(2, 1, 1), pad2=1):
    """in (2, side, side) -> Conv2d (groups 2, dilation 2) -> LIF -> AvgPool2d (3, stride 2,
    padding 1) -> Conv2d (groups 2, depthwise-like) -> LIF -> SumPool2d (pool2) -> Flatten ->
    Affine -> out."""
    conv = lambda w, pad, dil, groups, side: nir.Conv2d(input_shape=(side, side), weight=w, stride=1, padding=pad,
                                                        dilation=dil, groups=groups,
                                                        bias=rng.normal(0, 0.1, w.shape[0]))
    ho = (side + 2 - 3) // 2 + 1
    h2 = ho + 2 * pad2 - 2
    k, s, p = pool2
    h3 = (h2 + 2 * p - k) // s + 1
    nodes = {"in": nir.Input(input_type={"input": np.array([2, side, side])}),
             "c0": conv(rng.normal(0, 0.8, (4, 1, 3, 3)), 2, 2, 2, side), "l0": lif((4, side, side), tau=4e-3, r=4.0),
             "pool": nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([2, 2]), padding=np.array([1, 1])),
             "c1": conv(rng.normal(0, 1.2, (4, 2, 3, 3)), pad2, 1, 2, ho), "l1": lif((4, h2, h2), tau=4e-3, r=4.0),
             "pool2": nir.SumPool2d(kernel_size=np.array([k, k]), stride=np.array([s, s]), padding=np.array([p, p])),
             "flat": nir.Flatten(input_type={"input": np.array([4, h3, h3])}, start_dim=0, end_dim=-1),
             "fc": nir.Affine(weight=rng.normal(0, 0.5, (5, 4 * h3 * h3)), bias=np.zeros(5)),
             "out": nir.Output(output_type={"output": np.array([5])})}
    edges = [("in", "c0"), ("c0", "l0"), ("l0", "pool"), ("pool", "c1"), ("c1", "l1"), ("l1", "pool2"),
             ("pool2", "flat"), ("flat", "fc"), ("fc", "out")]
    return graph(nodes, edges)


def test_grouped_dilated_convs_and_pools_of_any_stride(tmp_path):
    """Grouped and dilated convs run as the dense convs they equal; a 3x3 stride-2 padded mean pool
    composes into the next conv (one 7x7 kernel of stride 2), a 2x2 stride-1 padded sum pool into
    the Affine after Flatten: the float graph equals NIR stepped by hand, Lava the simulator.  The
    file reads back although nir 1.0.8's own type inference sizes the grouped conv wrongly."""
    rng = np.random.default_rng(32)
    g = conv_graph(rng)
    x = rng.uniform(0, 1.5, (3, 4, 2, 7, 7))
    ref = nir_steps(g, x.transpose(1, 0, 2, 3, 4), DT)
    net, out = float_run(g, x, 4)
    assert np.allclose(out, ref["out"], atol=1e-9)
    for n in ("l0", "l1"):
        assert np.array_equal(net.record[n][0].numpy(), ref[n]) and 0.05 < ref[n].mean() < 0.9, n
    program, _ = lava_and_simulator_agree(g, torch.as_tensor(x[:2], dtype=torch.float32), timesteps=4)
    c1 = program.synapses["c1"]
    assert c1.weight.shape == (4, 4, 7, 7) and c1.stride == (2, 2) and c1.padding == (3, 3)
    nir.write(tmp_path / "g.nir", g)
    with pytest.raises(Exception):
        nir.read(tmp_path / "g.nir").check_types()
    assert set(read_nir(tmp_path / "g.nir", dt=DT, timesteps=4).nodes) == set(from_nir(g, dt=DT, timesteps=4).nodes)


def test_pool_without_an_exact_conv_is_refused_in_one_line():
    """On an 8 x 8 input the 3x3 stride-2 padded pool leaves input row 7 to a window the next conv's
    padding would read: no convolution computes that, so it is refused, naming the node."""
    g = conv_graph(np.random.default_rng(33), side=8)
    with pytest.raises(NIRFormatError, match="node pool: AvgPool2d .* into c1's padding") as e:
        from_nir(g, dt=DT, timesteps=4)
    assert "\n" not in str(e.value)
    g = conv_graph(np.random.default_rng(33), side=8, pad2=0)     # no padding after it: exact
    from_nir(g, dt=DT, timesteps=4)


def delay_mlp(rng, per_neuron=True, where="after", first=False):
    """in -> fc0 -> [Delay] -> IF -> fc1 -> [Delay] -> LIF -> head -> out; biases nonzero."""
    nodes = {"in": nir.Input(input_type={"input": np.array([6])}),
             "fc0": nir.Affine(weight=rng.normal(0, 1.5, (8, 6)), bias=rng.normal(0, 0.3, 8)),
             "n0": if_(8, r=1.0 / DT),
             "fc1": nir.Affine(weight=rng.normal(0, 1.5, (7, 8)), bias=rng.normal(0.2, 0.3, 7)),
             "n1": lif(7, r=1.0),
             "head": nir.Affine(weight=rng.normal(0, 1, (3, 7)), bias=np.zeros(3)),
             "out": nir.Output(output_type={"output": np.array([3])})}
    edges = [("in", "fc0"), ("n0", "fc1"), ("n1", "head"), ("head", "out")]
    layer, size = ("fc0", 8) if first else ("fc1", 7 if where == "after" else 8)
    steps = rng.integers(0, 4, size) if per_neuron else np.full(size, 2)
    nodes["d"] = nir.Delay(delay=steps * DT)
    if where == "after":
        edges += [(layer, "d"), ("d", "n0" if first else "n1"), *([("fc1", "n1")] if first else [("fc0", "n0")])]
    else:
        edges += [("n0", "d"), ("d", "fc1"), ("fc0", "n0"), ("fc1", "n1")]
        edges.remove(("n0", "fc1"))
    return graph(nodes, edges)


@pytest.mark.parametrize("per_neuron, where, first", [(True, "after", False), (True, "before", False),
                                                       (False, "after", False), (False, "after", True)])
def test_delays(per_neuron, where, first):
    """Per-neuron delays (the layer split into one synapse layer per delay), a Delay after a biased
    Affine (its bias held back too, through a bias neuron on the chip), a Delay on the layer the
    input feeds (the host shifts its currents): NIR by hand, Lava, simulator, chip vs float."""
    rng = np.random.default_rng(34)
    g = delay_mlp(rng, per_neuron, where, first)
    x = rng.uniform(0, 1.5, (24, 8, 6))
    ref = nir_steps(g, x.transpose(1, 0, 2), DT)
    net, out = float_run(g, x, 8)
    assert np.allclose(out, ref["out"], atol=1e-9)
    for n in ("n0", "n1"):
        assert np.array_equal(net.record[n][0].numpy(), ref[n]) and 0.02 < ref[n].mean() < 0.9, n
    program, sim = lava_and_simulator_agree(g, torch.as_tensor(x[:3], dtype=torch.float32))
    if not first:       # the host shifts a first layer's inputs within each sample: that streams
        assert "carry a sample's last steps into the next" in program.why_not_streamed()
    else:
        assert program.why_not_streamed() is None and program.host.delay == 2
        from spikefold.deploy.lava_graph import run_lava, run_lava_stream
        xs = torch.as_tensor(x[:3], dtype=torch.float32)
        assert torch.equal(run_lava_stream(program, xs)[0], run_lava(program, xs)[0])
    sim = Simulator(program).run(torch.as_tensor(x, dtype=torch.float32), record=True)
    agree = chip_agreement(program, sim, net, ("n0", "n1"), 8)
    assert min(agree.values()) > 0.97, agree


def test_bias_into_a_current_is_exact_through_a_bias_neuron():
    """NIR adds an Affine's bias to a CubaLIF's current; Loihi's own bias enters v.  A neuron firing
    on every step carries the bias into the current instead: the chip's spikes equal the float
    graph's wherever the quantised weights do (issue 13's 99.2 % was the steady-state bias)."""
    rng = np.random.default_rng(5)
    g = mlp(rng)
    g.nodes["fc2"].bias = np.linspace(-0.4, 0.4, 5)
    x = torch.as_tensor(rng.uniform(0, 4, (64, 8, 6)), dtype=torch.float32)
    graph_ = from_nir(g, dt=DT, timesteps=8)
    program = quantize(graph_)
    assert "bias_on_1" in program.neurons and not np.any(program.neurons["n2"].bias_mant)
    net = GraphNet(graph_)
    with torch.no_grad():
        net(x, record=True)
    sim = Simulator(program).run(x, record=True)
    assert chip_agreement(program, sim, net, ("n2",), 8)["n2"] > 0.999
    lava_and_simulator_agree(g, x[:2])


def test_rockpool_input_of_shape_1_T_F(tmp_path):
    """Rockpool 3.1 writes Input (1, T, F): read without NIR's type check, batch and time dropped
    (stated in the graph's metadata), the inputs then (B, T, F)."""
    rng = np.random.default_rng(35)
    nodes = {"in": nir.Input(input_type={"input": np.array([1, 10, 6])}),
             "fc": nir.Linear(weight=rng.normal(0, 1.5, (4, 6))), "n": lif(4, r=4.0),
             "head": nir.Linear(weight=rng.normal(0, 1, (2, 4))), "out": nir.Output(output_type={"output": np.array([1, 10, 2])})}
    g = graph(nodes, [("in", "fc"), ("fc", "n"), ("n", "head"), ("head", "out")])
    nir.write(tmp_path / "r.nir", g)
    ours = read_nir(tmp_path / "r.nir", dt=DT, timesteps=10)
    assert ours.nodes["in"].shape == (6,) and "time (10)" in ours.meta["nir"]["input_dims_dropped"]
    x = rng.uniform(0, 1, (2, 10, 6))
    ref = nir_steps(g, x.transpose(1, 0, 2), DT)
    _, out = float_run(g, x, 10)
    assert np.allclose(out, ref["out"], atol=1e-9)


def li_mlp(rng, taus=None):
    """in -> fc0 -> IF -> a -> LI (v_leak) -> w -> LIF (v_leak) -> head -> LI (v_leak) -> out."""
    nodes = {"in": nir.Input(input_type={"input": np.array([6])}),
             "fc0": nir.Affine(weight=rng.normal(0, 1.5, (8, 6)), bias=rng.normal(0, 0.2, 8)), "n0": if_(8, r=1.0 / DT),
             "a": nir.Affine(weight=rng.normal(0, 1.5, (5, 8)), bias=rng.normal(0, 0.2, 5)),
             "li": nir.LI(tau=np.full(5, 4e-3) if taus is None else taus, r=np.full(5, 2.0), v_leak=rng.uniform(-0.2, 0.4, 5)),
             "w": nir.Affine(weight=rng.normal(0, 1.5, (7, 5)), bias=rng.normal(0, 0.2, 7)), "n1": lif(7, r=5.0),
             "head": nir.Affine(weight=rng.normal(0, 1, (3, 7)), bias=np.zeros(3)),
             "ro": nir.LI(tau=np.full(3, 4e-3), r=np.ones(3), v_leak=np.array([0.1, -0.2, 0.3])),
             "out": nir.Output(output_type={"output": np.array([3])})}
    nodes["n1"].v_leak = rng.uniform(-0.2, 0.3, 7)
    order = ["in", "fc0", "n0", "a", "li", "w", "n1", "head", "ro", "out"]
    return graph(nodes, list(zip(order, order[1:])))


def test_hidden_leaky_integrator_is_the_next_neurons_current():
    """A -> LI -> W -> LIF: with one leak for every LI unit, W's image of the LI is a synaptic
    current of the LIF (Loihi's u, du from the leak), fed by W N A and W (N b_A + rest); W's bias
    enters v.  NIR by hand, Lava, simulator, chip vs float; an LI readout's resting potential is
    added on the host."""
    rng = np.random.default_rng(36)
    g = li_mlp(rng)
    x = rng.uniform(0, 1.5, (24, 8, 6))
    ref = nir_steps(g, x.transpose(1, 0, 2), DT)
    net, out = float_run(g, x, 8)
    assert "li" not in net.graph.nodes and net.graph.nodes["n1"].syn_leak is not None
    assert np.allclose(out, ref["out"], atol=1e-9)
    for n in ("n0", "n1"):
        assert np.array_equal(net.record[n][0].numpy(), ref[n]) and 0.02 < ref[n].mean() < 0.9, n
    program, sim = lava_and_simulator_agree(g, torch.as_tensor(x[:3], dtype=torch.float32))
    assert np.all(program.neurons["n1"].du == 4095 - 3072) and program.readout_rest is not None
    sim = Simulator(program).run(torch.as_tensor(x, dtype=torch.float32), record=True)
    assert chip_agreement(program, sim, net, ("n0", "n1"), 8)["n1"] > 0.99
    assert np.abs(sim.logits.double().numpy() - out).mean() < 0.01 * np.abs(out).max()    # a spike apart, here and there


def test_hidden_leaky_integrator_without_an_exact_form_is_refused():
    g = li_mlp(np.random.default_rng(37), taus=np.array([4e-3, 4e-3, 5e-3, 4e-3, 4e-3]))
    with pytest.raises(NIRFormatError, match="node li: an LI between synapses .* leak differs") as e:
        from_nir(g, dt=DT, timesteps=4)
    assert "\n" not in str(e.value)
    g = li_mlp(np.random.default_rng(37))              # a recurrent input into the neurons after it
    g.nodes["rec"] = nir.Affine(weight=np.eye(7), bias=np.zeros(7))
    g.edges += [("n1", "rec"), ("rec", "n1")]
    with pytest.raises(NIRFormatError, match="node li: .* must have no other input"):
        from_nir(g, dt=DT, timesteps=4)
