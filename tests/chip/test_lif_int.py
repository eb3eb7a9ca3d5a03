"""spikefold.chip.lif_int: hand-derived trajectories, and the vectorised loop against the step function."""
import numpy as np
import pytest
import torch

from spikefold.chip.lif_int import decay_f32, lif_step, lif_steps_current_free, odd_part, wrap32


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
    fast, _, _ = lif_steps_current_free(c, dv, vth)
    u = v = torch.zeros(shape, dtype=torch.float64)
    for t in range(steps):
        u, v, s, _, _ = lif_step(u, v, a[t], 4095, dv, bias, vth, current_free=True)
        assert torch.equal(fast[t].bool(), s)
    assert 0 < fast.float().mean() < 1


def test_float32_decay_is_exact_where_the_direct_product_is_not():
    """decay_f32 against float64 on every k = 4096 - dv and states across the 24-bit range; the
    plain float32 product rounds for some of them (why the split exists)."""
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.integers(-(2**23 - 1), 2**23, 4000), [0, 1, -1, 4095, -4096, 2**23 - 1, -(2**23 - 1)]])
    k = np.arange(1, 4097)
    V, K = (torch.as_tensor(a, dtype=torch.float64) for a in np.meshgrid(v, k))
    exact = torch.trunc(V * K / 4096)
    assert torch.equal(decay_f32(V.float(), K.float()).double(), exact)
    direct = torch.div(V.float() * K.float(), 4096, rounding_mode="trunc").double()
    assert not torch.equal(direct, exact)
    # where the caller's bound holds (|v| * odd_part(k) < 2**24) the direct product is exact
    ok = torch.as_tensor(np.abs(V.numpy()) * odd_part(K.numpy().astype(np.int64)) < 2**24)
    assert ok.any() and torch.equal(direct[ok], exact[ok])


@pytest.mark.parametrize("split", [False, True])
def test_float32_loop_equals_float64(split):
    """The hot loop in float32 (states up to 2**23: drives near 2**22, half the thresholds out of
    reach) is the float64 loop, spike for spike and in the final v, with the split decay; with
    the direct product only where the leaks are powers of two."""
    rng = np.random.default_rng(2)
    steps, shape = 8, (3, 50, 40)
    c = torch.as_tensor(rng.integers(-(2**22), 2**22, (steps, *shape)), dtype=torch.float64)
    dv = rng.integers(0, 4096, shape) if split else rng.choice([0, 2048, 3072], shape)
    dv = torch.as_tensor(dv, dtype=torch.float64)
    vth = torch.as_tensor(rng.integers(2**10, 2**17, shape), dtype=torch.float64) * 64
    ref, sats, v = lif_steps_current_free(c, dv, vth)
    got, sats32, v32 = lif_steps_current_free(c.float(), dv, vth, split=split)
    assert got.dtype == torch.float32 and sats32 == sats > 0
    assert torch.equal(got.double(), ref) and 0 < ref.mean() < 1
    assert torch.equal(v32.double(), v) and v.abs().max() > 2**22
