"""simulate.lif_int: hand-derived trajectories, and the vectorised loop against the step function."""
import numpy as np
import torch

from simulate.lif_int import lif_step, lif_steps_current_free, wrap32


def run(a, du, dv, bias, vth, u0=0.0, v0=0.0):
    f = lambda x: torch.tensor([float(x)], dtype=torch.float64)
    u, v = f(u0), f(v0)
    us, vs, ss = [], [], []
    for x in a:
        u, v, s, _, _ = lif_step(u, v, f(x), f(du), f(dv), f(bias), f(vth * 64), du == 4095)
        us.append(int(u)), vs.append(int(v)), ss.append(int(s))
    return us, vs, ss


def test_one_spike_into_one_neuron():
    # a = 3 on step 1: u = 3 << 6 = 192, v = 192 > vth << 6 = 64 -> spike, v = 0; then all quiet
    assert run([3, 0, 0], 4095, 2048, 0, 1) == ([192, 0, 0], [0, 0, 0], [1, 0, 0])


def test_voltage_leak_rounds_toward_zero():
    # a = 1: v = 64, then v * (4096 - 2048) >> 12 halves it: 32, 16; -64 -> -32, -16
    assert run([1, 0, 0], 4095, 2048, 0, 2)[1] == [64, 32, 16]
    assert run([-1, 0, 0], 4095, 2048, 0, 2)[1] == [-64, -32, -16]
    # dv = 1: v * 4095 >> 12 = 64 - 1 (63.98 truncated toward zero); -64 -> -63
    assert run([1, 0], 4095, 1, 0, 100)[1] == [64, 63]
    assert run([-1, 0], 4095, 1, 0, 100)[1] == [-64, -63]


def test_current_decay_and_threshold_is_strict():
    # du = 2047: u halves (4096 - 2048); vth = 4 -> 256: v = 256 is not a spike, 640 is
    us, vs, ss = run([4, 4, 0], 2047, 0, 0, 4)
    assert us == [256, 384, 192] and vs == [256, 0, 192] and ss == [0, 1, 0]


def test_u_wraps_once_and_v_saturates():
    # a = 2**17 + 1: u = 2**23 + 64 > 2**23 -> u - 2**24 = -2**23 + 64
    us, _, _ = run([2 ** 17 + 1], 4095, 0, 0, 1000)
    assert us == [-(2 ** 23) + 64]
    # a bias of -2**22 per step without leak saturates v at -(2**23 - 1)
    _, vs, _ = run([0, 0, 0], 4095, 0, -(2 ** 22), 1000)
    assert vs == [-(2 ** 22), -(2 ** 23) + 1, -(2 ** 23) + 1]


def test_int32_overflow_of_the_current_sum():
    # Lava accumulates u in int32: -1.71e9 + (-9.08e8) overflows to a positive number
    assert int(wrap32(torch.tensor(-2.0 ** 31 - 5, dtype=torch.float64))) == 2 ** 31 - 5
    us, _, _ = run([-14194942] * 3, 103, 281, -3001 * 64, 63)
    ref = []
    u = np.zeros(1, np.int32)
    for _ in range(3):   # Lava's code, line by line, in numpy
        dc = np.int64(u) * (4096 - 104)
        dc = np.int32(np.sign(dc) * np.right_shift(np.abs(dc), 12))
        dc += np.left_shift(np.array([-14194942], np.int32), 6)
        w = np.where(dc > 2 ** 23, dc - 2 ** 24, dc)
        u[:] = np.where(w <= -2 ** 23, dc + 2 ** 24, w)
        ref.append(int(u[0]))
    assert us == ref and ref[-1] > 0


def test_vectorised_loop_equals_the_step_function():
    rng = np.random.default_rng(0)
    steps, shape = 6, (5, 7)
    a = torch.as_tensor(rng.integers(-3000, 3000, (steps, *shape)), dtype=torch.float64)
    dv = torch.as_tensor(rng.integers(0, 4096, shape), dtype=torch.float64)
    bias = torch.as_tensor(rng.integers(-5000, 5000, shape), dtype=torch.float64)
    vth = torch.as_tensor(rng.integers(0, 2000, shape), dtype=torch.float64) * 64
    c = a * 64 + bias
    fast, _ = lif_steps_current_free(c, dv, vth)
    u = v = torch.zeros(shape, dtype=torch.float64)
    for t in range(steps):
        u, v, s, _, _ = lif_step(u, v, a[t], 4095, dv, bias, vth, current_free=True)
        assert torch.equal(fast[t], s)
    assert 0 < fast.float().mean() < 1
