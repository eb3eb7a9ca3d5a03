"""deploy/netx_read.py: lava-dl netx files read into a Program that the fast simulator runs
spike for spike, u for u and v for v as lava-dl runs them: against lava-dl's own PilotNet LIF
ground truth (shipped in its wheel's tests folder), against lava-dl's netx Network in Lava's
bit-accurate simulator, and bad files refused in one line naming file and field."""
import importlib.util
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from spikefold.deploy.lava_compat import LAVA
from spikefold.deploy.netx_read import NetxFormatError, read_netx
from spikefold.simulate.lava_check import lava_layout
from spikefold.simulate.engine import Simulator


def _netx_tests() -> Path | None:
    """lava-dl's netx tests folder (site-packages/tests/lava/lib/dl/netx), found without importing
    lava-dl, or None."""
    spec = importlib.util.find_spec("lava")
    for root in (spec.submodule_search_locations if spec else []):
        d = Path(root).parent / "tests" / "lava" / "lib" / "dl" / "netx"
        if (d / "gts" / "pilotnet_lif" / "network.net").is_file():
            return d
    return None


NETX = _netx_tests()
needs_gts = pytest.mark.skipif(NETX is None, reason="lava-dl's netx tests folder (its wheel's "
                               "tests/lava/lib/dl/netx, with gts/pilotnet_lif) is not installed")
needs_lava = pytest.mark.skipif(not LAVA or NETX is None, reason="Lava and lava-dl (the `lava` extra) are not installed")
GT_LAYERS = ["input"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(4)]


def run(program, bias_whc: np.ndarray):
    """The fast simulator on one input frame held as the input layer's bias ((W, H, C), Lava's
    layout, as lava-dl's tests set in_layer.neuron.bias_mant): {layer: (spikes, u, v)} in Lava's
    layouts, every step."""
    x = torch.as_tensor(bias_whc.transpose(*range(bias_whc.ndim)[::-1])[None].astype(np.float64))
    r = Simulator(program).run(x, record=True, states=True)
    return {k: tuple(lava_layout(rec[k][:, 0]) for rec in (r.spikes, r.u, r.v)) for k in program.neurons}


@needs_gts
def test_pilotnet_lif_ground_truth():
    """Every layer's spikes, u and v at every step of lava-dl's gts/pilotnet_lif, read as its
    Loihi test builds the network (Network(reset_interval=16): block k, the input block being 0,
    resets on the steps whose time_step % 16 == k + 1; the frame as the input layer's bias).

    What the ground truth does that Lava's LIFReset does not, visible in its files: (1) a
    spiking neuron's v reads 128, not the 0 it is reset to (the next steps show the reset to 0);
    (2) at block k's second reset, step 16 + k, the ground truth holds one extra step, after which
    its step t is Lava's step t - 1 (lava-dl's own test checks only step 14 of one layer);
    (3) fc-3's files (float, 25 steps) come from another run: they match at every step the
    network whose blocks reset one step earlier (reset_offset=-1), and no run with netx's own
    offsets."""
    d = NETX / "gts" / "pilotnet_lif"
    image = np.load(d / "image.npy")
    got = run(read_netx(d / "network.net", reset_interval=16), image)
    assert list(got) == ["input0", "conv1", "conv2", "conv3", "conv4", "conv5", "dense7", "dense8", "dense9",
                         "dense10"]
    checked = 0
    for k, (name, gt_name) in enumerate(zip(list(got)[:-1], GT_LAYERS[:-1])):
        s, u, v = got[name]
        ours = {"": s, "-u": u, "-v": np.where(s, 128, v)}
        for suffix in ("", "-u", "-v") if k else ("",):
            gt = np.load(d / f"{gt_name}{suffix}.npy")
            extra = 16 + k                               # the ground truth's inserted step
            np.testing.assert_array_equal(ours[suffix][..., :extra], gt[..., :extra], err_msg=gt_name + suffix)
            np.testing.assert_array_equal(ours[suffix][..., extra:gt.shape[-1] - 1], gt[..., extra + 1:],
                                          err_msg=gt_name + suffix)
            checked += gt.shape[-1] - 1
    assert checked == 9 * 23 + 8 * 2 * 23
    early = run(read_netx(d / "network.net", reset_interval=16, reset_offset=-1), image)["dense10"]
    for suffix, ours in (("-s", early[0]), ("-u", early[1]), ("-v", early[2])):
        gt = np.load(d / f"fc-3{suffix}.npy")
        np.testing.assert_array_equal(ours[..., :gt.shape[-1]], gt, err_msg="fc-3" + suffix)


def assert_lava_equal(path, bias_whc, steps, **network_args):
    ours = run(read_netx(path, timesteps=steps, **network_args), bias_whc)
    from spikefold.deploy.lava_graph import run_netx_file
    theirs = run_netx_file(path, bias_whc, steps, **network_args)
    assert len(ours) == len(theirs)
    for name, (s, u, v), (ls, lu, lv) in zip(ours, ours.values(), theirs):
        np.testing.assert_array_equal(s[..., :steps], ls.reshape(s[..., :steps].shape), err_msg=name)
        np.testing.assert_array_equal(u[..., steps - 1], np.asarray(lu).reshape(u.shape[:-1]), err_msg=name)
        np.testing.assert_array_equal(v[..., steps - 1], np.asarray(lv).reshape(v.shape[:-1]), err_msg=name)
    return ours


@needs_lava
def test_lava_dl_equals_fast_simulator_on_tiny_net():
    """lava-dl's tiny.net (input, two convs, the tinynet ground truth's input bias), resetting
    every 5 steps: every block's spikes at each of 12 steps, u and v at the last."""
    bias = np.load(NETX / "gts" / "tinynet" / "input_bias.npy")
    ours = assert_lava_equal(NETX / "tiny.net", bias, 12, reset_interval=5, reset_offset=2)
    assert all(s.any() for s, _, _ in ours.values())


@needs_lava
def test_lava_dl_equals_fast_simulator_on_mnist_net():
    """lava-dl's mnist.net (the MNIST tutorial's form: input, three dense blocks), an image-like
    bias, no resets: every block's spikes at each of 10 steps, u and v at the last."""
    bias = np.random.default_rng(2).integers(0, 80, 784)
    ours = assert_lava_equal(NETX / "mnist.net", bias, 10)
    assert all(s.any() for s, _, _ in list(ours.values())[:3]) and ours["dense3"][1].any()  # a noise image: no class fires


@needs_lava
@pytest.mark.slow
def test_lava_dl_equals_fast_simulator_on_pilotnet_lif():
    """PilotNet LIF as Intel ran it (its frame as the input bias, reset_interval 16) for 4
    steps in Lava (about 5 s a step on the 2-core machine): every block's spikes, u and v."""
    d = NETX / "gts" / "pilotnet_lif"
    assert_lava_equal(d / "network.net", np.load(d / "image.npy"), 4, reset_interval=16)


def write_net(path, **edits):
    """A small netx file exercising what the reader maps: input neurons (4, 5, 6), a strided,
    padded, grouped and dilated conv, a flatten, a dense with a uniform axonal delay, a
    recurrent dense and a dense without neurons (netx's default integrator).  `edits`:
    {"layer/i/field": value (None deletes it)}."""
    rng = np.random.default_rng(0)
    cuba = {"type": "CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 80, "refDelay": 1, "wgtExp": 0}
    layers = [
        {"type": "input", "shape": [4, 5, 6], "neuron": {**cuba, "iDecay": 4096}, "weight": 2.0, "bias": 0.0},
        {"type": "conv", "shape": [4, 3, 3], "weight": rng.integers(-40, 60, (4, 2, 3, 2)).astype(float),
         "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1], "groups": 2, "bias": [5.0, 0, -3, 9],
         "neuron": cuba},
        {"type": "flatten"},
        {"type": "dense", "shape": [7], "weight": rng.integers(-20, 30, (7, 36)).astype(float) * 2,
         "delay": np.full(7, 2.0), "bias": rng.integers(-4, 8, 7).astype(float), "neuron": cuba},
        {"type": "dense_rec", "shape": [5], "weight": rng.integers(-60, 80, (5, 7)).astype(float),
         "weight_rec": rng.integers(-30, 30, (5, 5)).astype(float), "neuron": {**cuba, "vThMant": 40}},
        {"type": "dense", "shape": [2], "weight": rng.integers(-100, 100, (2, 5)).astype(float)},
    ]
    with h5py.File(path, "w") as f:
        for i, layer in enumerate(layers):
            g = f.create_group(f"layer/{i}")
            for key, value in layer.items():
                if isinstance(value, dict):
                    for k, v in value.items():
                        g[f"{key}/{k}"] = v
                else:
                    g[key] = np.array([value.encode()]) if key == "type" else value
        for key, value in edits.items():
            if key in f:
                del f[key]
            if value is not None:
                f[key] = value
    return path


@needs_lava
def test_lava_dl_equals_fast_simulator_on_every_mapped_block(tmp_path):
    """Grouped, dilated, strided, padded conv, flatten, uniform axonal delay, recurrent dense and
    netx's default neurons, resetting every 6 steps: lava-dl's run, block for block."""
    bias = np.random.default_rng(1).integers(0, 40, (6, 5, 4))
    ours = assert_lava_equal(write_net(tmp_path / "small.net"), bias, 14, reset_interval=6, reset_offset=1)
    assert [k for k, (s, _, _) in ours.items() if not s.any()] == ["dense5"]   # the integrator never fires


@pytest.mark.parametrize("edits, field, why", [
    ({"layer/1/neuron/vThMant": None}, "layer/1/neuron/vThMant", "missing"),
    ({"layer/3/weight": np.full((7, 36), np.nan)}, "layer/3/weight", "NaN"),
    ({"layer/3/weight": np.ones((7, 35))}, "layer/3/weight", "has shape (7, 35)"),
    ({"layer/1/weight": np.full((4, 2, 3, 2), 1.5)}, "layer/1/weight", "non-integer"),
    ({"layer/1/shape": [4, 3, 4]}, "layer/1/shape", "not the conv's output"),
    ({"layer/1/neuron/type": "SDNN"}, "layer/1/neuron/type", "sigma-delta"),
    ({"layer/1/neuron/refDelay": 2}, "layer/1/neuron/refDelay", "refractory"),
    ({"layer/1/neuron/gradedSpike": True}, "layer/1/neuron/gradedSpike", "graded"),
    ({"layer/1/neuron/wgtExp": 1}, "layer/1/neuron/wgtExp", "ignores it"),
    ({"layer/3/delay": np.arange(7.0)}, "layer/3/delay", "differ"),
    ({"layer/2/type": np.array([b"pool"])}, "layer/2/type", "does not implement"),
    ({"layer/0/neuron": None}, "layer/0/neuron", "without neurons"),
    ({"layer/2": None}, "layer", "not numbered"),
])
def test_bad_or_unsupported_file_is_refused_naming_file_and_field(tmp_path, edits, field, why):
    path = write_net(tmp_path / "bad.net", **edits)
    with pytest.raises(NetxFormatError) as e:
        read_netx(path, timesteps=4)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{path}: {field}: ") and why in msg, msg


def test_truncated_and_foreign_files_are_refused_naming_the_file(tmp_path):
    data = write_net(tmp_path / "good.net").read_bytes()
    for name, content in (("truncated.net", data[: len(data) // 2]), ("text.net", b"not hdf5\n")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(NetxFormatError, match=rf"^{path}: ") as e:
            read_netx(path, timesteps=4)
        assert "\n" not in str(e.value)
    with pytest.raises(NetxFormatError, match="simulation/tSample: missing"):
        read_netx(tmp_path / "good.net")


def test_file_integers_are_the_program(tmp_path):
    """No requantisation: conv kernels as written (groups and dilation expanded with zeros),
    dense weights as netx scales them (w << s with weight_exp -s), biases and thresholds as
    written, every bias on from step 0, netx's reset offsets per block."""
    p = read_netx(write_net(tmp_path / "n.net"), timesteps=4, reset_interval=6, reset_offset=1)
    with h5py.File(tmp_path / "n.net") as f:
        k = f["layer/1/weight"][()]
        w = f["layer/3/weight"][()]
    conv = p.synapses["conv1"].weight
    np.testing.assert_array_equal(conv[:2, :2, ::2], k[:2])      # group 0, dilation 2 along H
    np.testing.assert_array_equal(conv[2:, 2:, ::2], k[2:])
    assert not conv[:2, 2:].any() and not conv[2:, :2].any() and not conv[:, :, 1::2].any()
    dense = p.synapses["dense3"]
    assert dense.weight_exp == -2
    np.testing.assert_array_equal(dense.weight, w.astype(int) << 2)
    assert dense.delay == 2 and p.synapses["dense4.rec"].src == "dense4"
    assert [n.reset_offset for n in p.neurons.values()] == [2, 3, 4, 5, 6]
    assert all(n.start == 0 for n in p.neurons.values()) and p.host.kind == "bias"
    assert p.neurons["dense5"].vth.max() == 1 << 17 and p.neurons["dense5"].du.max() == -1


def cli(capsys, main, *args):
    """A command's main(args) in this process (its own code, without a new interpreter's imports):
    (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        status = main([str(a) for a in args]) or 0
    except SystemExit as e:
        status = e.code
    out = capsys.readouterr()
    return status, out.out, out.err


@needs_lava
def test_commands_take_a_netx_file(tmp_path, capsys):
    """simulate/run.py, deploy/map.py and deploy/to_lava.py on a .net file: its program as written,
    the inputs the input layer's bias frames; without inputs, one line naming the file."""
    from spikefold.deploy import map as map_, to_lava
    from spikefold.simulate import run as run_
    net = write_net(tmp_path / "small.net")
    x = np.random.default_rng(1).integers(0, 40, (3, 4, 5, 6))
    np.savez(tmp_path / "in.npz", x=x, y=np.array([0, 1, 1]))
    common = ["--inputs", tmp_path / "in.npz", "--timesteps", "10", "--reset-interval", "6", "--reset-offset", "1"]
    status, out, err = cli(capsys, run_.main, net, *common)
    assert status == 0 and "inputs, 3 samples: chip simulator" in out, err
    assert "no float graph" in out
    status, out, err = cli(capsys, map_.main, net, "--profile", "loihi2", "--timesteps", "10")
    assert status == 0 and "conv1" in out and "dense4" in out, err
    status, out, err = cli(capsys, to_lava.main, net, *common)
    assert status == 0, err
    assert "every block's spikes identical to the fast simulator's on 3/3" in out, out
    status, _, err = cli(capsys, run_.main, net, "--timesteps", "10")
    assert status == 2 and err.count("\n") == 1 and err.startswith(f"error: {net}: ")
    assert "give --inputs" in err
    for name, bad, why in (("shape", x[:, :, :, :5], "x has shape (3, 4, 5, 5), expected (B, 4, 5, 6)"),
                           ("fraction", x + 0.5, "must hold integers"),
                           ("range", x * 1000, "beyond Loihi's 13-bit bias mantissa")):
        np.savez(tmp_path / f"{name}.npz", x=bad)
        status, _, err = cli(capsys, run_.main, net, "--timesteps", "10", "--inputs", tmp_path / f"{name}.npz")
        assert status == 2 and err.count("\n") == 1 and why in err, (name, err)
    for flags, why in ((["--reset-offset", "2"], "without --reset-interval"), (["--stream"], "--stream: ")):
        status, _, err = cli(capsys, to_lava.main, net, *common[:4], *flags)
        assert status == 2 and err.count("\n") == 1 and why in err, (flags, err)


def test_the_report_of_a_netx_file_is_the_chip_alone(tmp_path, capsys):
    """simulate/report.py --nir network.net: the file's program on the inputs, its accuracy and
    predictions as simulate/run.py makes them, counts, placement and energy on every chip profile,
    and no float figures (a netx file carries no float network)."""
    import json
    from spikefold.simulate import report, run as run_
    from spikefold.simulate.report_build import NETX_OUTPUTS
    net = write_net(tmp_path / "small.net")
    x = np.random.default_rng(1).integers(0, 40, (6, 4, 5, 6))
    np.savez(tmp_path / "in.npz", x=x, y=np.array([0, 1, 1, 0, 1, 0]))
    common = ["--inputs", tmp_path / "in.npz", "--timesteps", "10", "--reset-interval", "6", "--reset-offset", "1"]
    status, out, err = cli(capsys, report.main, "--nir", net, *common, "--quiet", "--out", tmp_path / "rep")
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == sorted(NETX_OUTPUTS)
    r = json.loads((tmp_path / "rep" / "report.json").read_text())
    status, ran, _ = cli(capsys, run_.main, net, *common)
    assert f"chip simulator {r['accuracy']['chip']:.2f}%" in ran
    assert r["netx"] == str(net) and "divergence" not in r and set(r["accuracy"]) == {"chip"}
    assert r["operations_per_inference"]["ann"]["macs"] > 0 and r["samples"] == 6
    assert {"loihi", "loihi2"} <= set(r["chip_mapping"]) and r["energy"]["loihi2_deployed"]["pj"] > 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "carries no float network" in md and "Loihi 2" in md and "chip alone" in out
