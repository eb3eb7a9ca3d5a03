"""A Dense -> LIF -> Dense -> LIF chain in Lava's bit-accurate simulator, against a hand trajectory.

Lava fixed point (DESIGN.md section 5), per step t = 1, 2, ...:
    u = u * (4096 - (du + 1)) >> 12  +  a << 6
    v = v * (4096 - dv) >> 12  +  u  (+ bias)
    spike iff v > vth << 6 ; spiking neurons get v = 0
and each Dense delivers on step t what it computed from the spikes of step t - 1.

Input: one neuron spiking on steps 1 and 2.  w1 = 4, w2 = 3.
LIF1: du = 2047 (u halves), dv = 0 (no voltage leak), vth = 4 -> 256.
LIF2: du = 4095 (u cleared each step), dv = 2048 (v halves), vth = 3 -> 192.

 t | a1 | u1  | v1                  | s1 || a2 | u2  | v2              | s2
 1 |  0 |   0 |   0                 |  0 ||  0 |   0 |   0             | 0
 2 |  4 | 256 | 256 (= thr, strict) |  0 ||  0 |   0 |   0             | 0
 3 |  4 | 384 | 640 > 256           |  1 ||  0 |   0 |   0             | 0
 4 |  0 | 192 | 192                 |  0 ||  3 | 192 | 192 (= thr)     | 0
 5 |  0 |  96 | 288 > 256           |  1 ||  0 |   0 |  96             | 0
 6 |  0 |  48 |  48                 |  0 ||  3 | 192 | 48 + 192 = 240  | 1
 7 |  0 |  24 |  72                 |  0 ||  0 |   0 |   0             | 0
 8 |  0 |  12 |  84                 |  0 ||  0 |   0 |   0             | 0

The input spikes of steps 1, 2 reach LIF1 on steps 2, 3 and LIF1's spikes of
steps 3, 5 reach LIF2 on steps 4, 6: one step of latency per synaptic layer.
"""

import numpy as np

import pytest
from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.process import LIF

T = 8
EXPECTED_S1 = [0, 0, 1, 0, 1, 0, 0, 0]
EXPECTED_S2 = [0, 0, 0, 0, 0, 1, 0, 0]
EXPECTED_V1 = [0, 256, 0, 192, 0, 48, 72, 84]
EXPECTED_U1 = [0, 256, 384, 192, 96, 48, 24, 12]
EXPECTED_V2 = [0, 0, 0, 192, 96, 0, 0, 0]


def test_two_layer_chain_matches_hand_trajectory():
    data = np.zeros((1, T))
    data[0, :2] = 1
    src = Source(data=data)
    dense1 = Dense(weights=np.array([[4]]))
    lif1 = LIF(shape=(1,), du=2047, dv=0, vth=4)
    dense2 = Dense(weights=np.array([[3]]))
    lif2 = LIF(shape=(1,), du=4095, dv=2048, vth=3)
    sink1, sink2 = Sink(shape=(1,), buffer=T), Sink(shape=(1,), buffer=T)
    src.s_out.connect(dense1.s_in)
    dense1.a_out.connect(lif1.a_in)
    lif1.s_out.connect(dense2.s_in)
    dense2.a_out.connect(lif2.a_in)
    lif1.s_out.connect(sink1.a_in)
    lif2.s_out.connect(sink2.a_in)

    v1, u1, v2 = [], [], []
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        for _ in range(T):  # one step at a time, to read the state after each
            src.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
            v1.append(int(lif1.v.get()[0]))
            u1.append(int(lif1.u.get()[0]))
            v2.append(int(lif2.v.get()[0]))
        s1, s2 = sink1.data.get()[0], sink2.data.get()[0]
    finally:
        src.stop()

    assert s1.tolist() == EXPECTED_S1
    assert s2.tolist() == EXPECTED_S2
    assert u1 == EXPECTED_U1
    assert v1 == EXPECTED_V1
    assert v2 == EXPECTED_V2
