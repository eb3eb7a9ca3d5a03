"""spikefold.deploy.quantize: Lava's weight rules, scales chosen by hand, relays on shortcuts, clips counted."""
import numpy as np
import pytest

from spikefold.compile.graph import Graph
from spikefold.compile.nodes import Conv2d, Flatten, Input, LIF, Linear, Output
from spikefold.deploy.quantize import VTH_TARGET, quantize
from spikefold.chip.weights import lava_weights


def test_lava_weight_rules():
    assert lava_weights(np.array([0, 3, 300])).tolist() == [0, 3, 255]             # excitatory
    assert lava_weights(np.array([0, -3, -300])).tolist() == [0, -3, -255]         # inhibitory
    assert lava_weights(np.array([-300, -3, 3, 300])).tolist() == [-256, -4, 2, 254]  # mixed: even


def conv(w, b, shape, stride=1, pad=0):
    w = np.asarray(w, float)
    return Conv2d(w, np.asarray(b, float), (stride, stride), (pad, pad), shape)


def lif(c, shape, leak=0.5):
    return LIF(np.full(c, leak), np.ones(c), 1.0, shape)


def chain_graph(w1, b1, leak=0.5):
    nodes = {"in": Input((1, 2, 2)), "c0": conv(np.ones((1, 1, 1, 1)), [0.0], (1, 2, 2)),
             "l0": lif(1, (1, 2, 2)), "c1": conv(w1, b1, (2, 2, 2)), "l1": lif(2, (2, 2, 2), leak),
             "flat": Flatten((8,)), "fc": Linear(np.arange(24.0).reshape(3, 8) - 12, np.array([1.0, 2, 3]), (3,)),
             "out": Output((3,))}
    names = list(nodes)
    return Graph.build(nodes, list(zip(names[:-1], names[1:])), {"timesteps": 4})


def test_scales_thresholds_weights_biases_and_leaks_by_hand():
    # conv weights, mixed, max |w| = 2 -> c = 255 / 2 = 127.5 (Lava's Conv keeps odd values):
    # vth = rint(127.5) = 128, w_int = rint(w * 127.5)
    p = quantize(chain_graph([[[[2.0]]], [[[-0.5]]]], [0.25, -3.0], leak=0.75))
    host, l0, l1 = p.host, p.neurons["l0"], p.neurons["l1"]
    assert host.scale == VTH_TARGET and l0.vth.flat[0] == VTH_TARGET and l0.start == 0
    assert l1.scale == 127.5 and np.all(l1.vth == 128) and l1.start == 1
    assert p.synapses["c1"].weight.ravel().tolist() == [255, -64]
    assert np.all(l1.dv == 1024) and np.all(l1.du == 4095)                  # 4096 * (1 - 0.75)
    b = l1.bias_mant * (1 << l1.bias_exp)                                   # 0.25 * 127.5 * 64 = 2040
    assert b[0].ravel().tolist() == [2040] * 4
    assert abs(b[1, 0, 0] - (-3.0 * 127.5 * 64)) <= (1 << l1.bias_exp[1, 0, 0]) / 2  # -24480: exp 3
    assert l1.bias_exp[1, 0, 0] == 3 and p.report["clips"] == 0
    assert p.readout == ("fc",) and p.depth == 2 and p.steps == 6
    # the readout is Dense and mixed: Lava's Dense truncates to even values, so c = 254 / 12
    assert p.readout_scale == pytest.approx(254 / 12)
    assert np.all(p.synapses["fc"].weight % 2 == 0)


def test_mixed_conv_weights_keep_odd_values_dense_ones_do_not():
    w = np.array([[[[1.0]]], [[[-0.37]]], [[[0.51]]]])
    p = quantize(chain_graph(w[:2], [0.0, 0.0]))
    q = p.synapses["c1"].weight.ravel()
    assert q.tolist() == [255, -94] and q[0] % 2 == 1         # rint(-0.37 * 255) = -94, 255 odd
    assert p.report["layers"]["l1"]["synapses"]["c1"]["max_rel_weight_error"] <= 0.5 / 255 + 1e-12


def test_oversized_bias_is_clipped_and_counted():
    p = quantize(chain_graph([[[[2.0]]], [[[-0.5]]]], [0.25, -1e6]))
    assert p.report["layers"]["l1"]["bias_clipped"] == 4 and p.report["clips"] == 4


def test_shortcut_gets_a_relay_so_both_inputs_arrive_together():
    c = 2
    w = np.eye(c).reshape(c, c, 1, 1)
    nodes = {"in": Input((1, 3, 3)), "c0": conv(np.ones((c, 1, 1, 1)), np.zeros(c), (c, 3, 3)),
             "l0": lif(c, (c, 3, 3)), "a": conv(w, np.zeros(c), (c, 3, 3)), "la": lif(c, (c, 3, 3)),
             "b": conv(w, np.zeros(c), (c, 3, 3)), "s": conv(w * 0.5, np.zeros(c), (c, 3, 3)),
             "lb": lif(c, (c, 3, 3)), "flat": Flatten((c * 9,)),
             "fc": Linear(np.ones((2, c * 9)), np.zeros(2), (2,)), "out": Output((2,))}
    edges = [("in", "c0"), ("c0", "l0"), ("l0", "a"), ("a", "la"), ("la", "b"), ("b", "lb"),
             ("l0", "s"), ("s", "lb"), ("lb", "flat"), ("flat", "fc"), ("fc", "out")]
    p = quantize(Graph.build(nodes, edges, {"timesteps": 2}))
    relays = [n for n, l in p.neurons.items() if l.relay]
    assert relays == ["s_relay1"] and p.neurons["s_relay1"].start == 1 and p.neurons["lb"].start == 2
    assert p.synapses["s"].src == "s_relay1" and p.synapses["s_relay1_syn"].src == "l0"
    for name, layer in p.neurons.items():   # every input of every layer arrives on the same step
        for syn in p.inputs_of(name):
            assert p.neurons[p.synapses[syn].src].start + 1 == layer.start


def test_dense_layers_use_weight_exp_for_threshold_resolution():
    nodes = {"in": Input((4,)), "h": Linear(np.eye(4), np.zeros(4), (4,)), "l0": lif(4, (4,)),
             "d": Linear(np.full((3, 4), 0.5), np.zeros(3), (3,)), "l1": lif(3, (3,)),
             "fc": Linear(np.ones((2, 3)), np.zeros(2), (2,)), "out": Output((2,))}
    names = list(nodes)
    p = quantize(Graph.build(nodes, list(zip(names[:-1], names[1:])), {"timesteps": 2}))
    s, l1 = p.synapses["d"], p.neurons["l1"]
    assert s.weight_exp == 3 and np.all(s.weight == 255) and l1.vth.flat[0] == 255 * 2 * 8
