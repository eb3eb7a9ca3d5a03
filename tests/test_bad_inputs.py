"""Bad input never passes silently and never destroys data (issue 14).

A corpus of bad inputs built here, run against every command in-process: each must end
with exit status 2 (130 for Ctrl-C), one line on stderr naming the file or option and
the problem, no traceback, no output file, and its inputs byte for byte unchanged.
"""
import hashlib
import os
import signal
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
import torch

from spikefold.compile import to_nir
from spikefold.deploy import to_lava, to_netx, to_onnx
from spikefold.models import train
from spikefold.simulate import report, report_build, run

ROOT = Path(__file__).resolve().parents[1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(capsys, main, argv, *needles, status=2):
    """Run main(argv); assert it refused with `status` and one line holding every needle."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert e.value.code == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert str(needle) in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def good(lif_ckpt, tmp_path_factory):
    """A directory with a good checkpoint and its NIR file."""
    d = tmp_path_factory.mktemp("good")
    ckpt = d / "ckpt.pt"
    ckpt.write_bytes(Path(lif_ckpt).read_bytes())
    assert to_nir.main([str(ckpt), "-o", str(d / "m.nir"), "--eval-samples", "0", "--quiet"]) == 0
    return d


def bad_checkpoint(good: Path, tmp: Path, value: float) -> Path:
    ckpt = torch.load(good / "ckpt.pt", weights_only=True)
    name = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point() and v.dim() == 4)
    ckpt["state_dict"][name].view(-1)[3] = value
    path = tmp / "bad.pt"
    torch.save(ckpt, path)
    return path


def edited_nir(good: Path, tmp: Path, edit) -> Path:
    """A copy of the good NIR file with edit(graph) applied through the nir API."""
    g = nir.read(good / "m.nir")
    edit(g)
    path = tmp / "bad.nir"
    nir.write(path, g)
    return path


def first(g, kind):
    return next(n for n in g.nodes.values() if isinstance(n, kind))


def snapshot(d: Path) -> dict:
    return {p.name: digest(p) for p in sorted(d.iterdir()) if p.is_file()}


# 1. an output path that is an input -------------------------------------------------------

def test_to_nir_refuses_to_overwrite_its_checkpoint(good, capsys):
    before = snapshot(good)
    refused(capsys, to_nir.main, [good / "ckpt.pt", "-o", good / "ckpt.pt"], "ckpt.pt",
            "would overwrite the input")
    assert snapshot(good) == before


@pytest.mark.parametrize("cmd", ["netx", "onnx"])
def test_exports_refuse_to_overwrite_their_input(good, capsys, cmd):
    before = snapshot(good)
    main, src = {"netx": (to_netx.main, good / "m.nir"), "onnx": (to_onnx.main, good / "ckpt.pt")}[cmd]
    refused(capsys, main, [src, "-o", src], "would overwrite the input")
    assert snapshot(good) == before


# 2. NaN and Inf ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_checkpoint_weights_are_refused_everywhere(good, tmp_path, capsys, value):
    ckpt = bad_checkpoint(good, tmp_path, value)
    onnx = [(to_onnx.main, [ckpt])] if find_spec("onnx") else []     # else: the onnx extra, one line
    for main, argv in [(to_nir.main, [ckpt, "--eval-samples", "0"]),
                       (report.main, [ckpt, "--samples", "8", "--quiet"]), *onnx]:
        refused(capsys, main, argv, "bad.pt", "NaN or Inf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


@pytest.mark.parametrize("value", [float("nan"), float("-inf")])
def test_non_finite_nir_arrays_are_refused_everywhere(good, tmp_path, capsys, value):
    def poison(g):
        first(g, nir.Conv2d).weight[0, 0, 0, 0] = value
    path = edited_nir(good, tmp_path, poison)
    for main, argv in [(to_netx.main, [path]), (run.main, [path, "--samples", "4"]),
                       (to_lava.main, [path, "--samples", "1"])]:
        refused(capsys, main, argv, "bad.nir", "weight holds 1 NaN or Inf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nir"]


# 3. impossible neuron parameters ----------------------------------------------------------

@pytest.mark.parametrize("field,value", [("tau", 0.0), ("tau", -1e-4), ("v_threshold", 0.0),
                                         ("v_threshold", -1.0)])
def test_impossible_lif_parameters_are_refused(good, tmp_path, capsys, field, value):
    def edit(g):
        getattr(first(g, nir.LIF), field)[0, 0, 0] = value
    path = edited_nir(good, tmp_path, edit)
    for main, argv in [(to_netx.main, [path]), (run.main, [path, "--samples", "4"])]:
        refused(capsys, main, argv, "bad.nir", f"LIF {field} must be > 0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nir"]


def test_leaks_the_chip_cannot_hold_are_counted_as_clips(build):
    from spikefold.deploy.quantize import quantize
    from spikefold.compile.nodes import Input, Output
    lif = build.lif((4, 6, 6), leak=-0.3, gain=1.0)
    g = build.graph([("in", Input((1, 6, 6))), ("c", build.conv(1, 4, (4, 6, 6))), ("n", lif),
                     ("f", __import__("spikefold.compile.nodes", fromlist=["Flatten"]).Flatten((144,))),
                     ("l", build.linear(144, 3)), ("out", Output((3,)))])
    p = quantize(g)
    assert p.report["layers"]["n"]["dv_clipped"] == 4 and p.report["clips"] >= 4
    assert np.all(p.neurons["n"].dv == 4095)


def test_training_keeps_learned_leaks_inside_the_chip_range():
    from spikefold.models.lif import AdaptiveLIF
    net = torch.nn.Sequential(AdaptiveLIF(3))
    with torch.no_grad():
        net[0].m.copy_(torch.tensor([1.2, -0.3, 0.5]))
    train.constrain_leaks(net)
    assert net[0].m.tolist() == pytest.approx([1 - 2 ** -12, 0.0, 0.5])


def test_impossible_model_config_in_a_checkpoint_is_refused(good, tmp_path, capsys):
    ckpt = torch.load(good / "ckpt.pt", weights_only=True)
    ckpt["model_config"]["v_th"] = -1.0
    torch.save(ckpt, tmp_path / "bad.pt")
    refused(capsys, to_nir.main, [tmp_path / "bad.pt"], "bad.pt", "v_th must lie in (0.0, inf]")


# 4. declared sizes, checked before reading -------------------------------------------------

def test_a_huge_declared_array_is_refused_before_any_read(good, tmp_path, capsys, monkeypatch):
    path = tmp_path / "bad.nir"
    path.write_bytes((good / "m.nir").read_bytes())
    with h5py.File(path, "r+") as f:
        conv = next(k for k in f["node/nodes"] if "weight" in f["node/nodes"][k]
                    and f["node/nodes"][k]["weight"].ndim == 4)
        del f["node/nodes"][conv]["weight"]
        f["node/nodes"][conv].create_dataset("weight", shape=(15000, 40000), dtype="f8",
                                             compression="gzip", chunks=(100, 100))
    assert path.stat().st_size < 1 << 20          # a small file declaring 4.5 GiB
    monkeypatch.setattr(nir, "read", lambda *a, **k: pytest.fail("nir.read reached"))
    for main in (run.main, to_netx.main, to_lava.main):
        refused(capsys, main, [path], "bad.nir", "(15000, 40000)", "1024 MiB limit", "--max-mb")


def test_the_size_limit_is_an_option(good, capsys):
    refused(capsys, to_nir.main, [good / "ckpt.pt", "--max-mb", "0.01", "-o", good / "x.nir"],
            "ckpt.pt", "over the 0.01 MiB limit")
    refused(capsys, run.main, [good / "m.nir", "--max-mb", "0.01"], "m.nir", "over the 0.01 MiB limit")
    assert not (good / "x.nir").exists()


# 5. one line, not a traceback --------------------------------------------------------------

@pytest.mark.parametrize("flag,value,needle", [("--timesteps", "0", "timesteps must lie in [1, 100000]"),
                                               ("--epochs", "0", "epochs must lie in [1, 100000]"),
                                               ("--lr", "nan", "lr must lie in (0.0, 100.0]"),
                                               ("--static-lr", "inf", "static_lr must lie in (0.0, 100.0]"),
                                               ("--static-lr", "1e308", "static_lr must lie in (0.0, 100.0]"),
                                               ("--static-epochs", "1000000000", "static_epochs must lie in [0, 100000]"),
                                               ("--tau", "0.5", "tau must lie in [1.0, inf]")])
def test_train_option_ranges(tmp_path, capsys, flag, value, needle):
    refused(capsys, train.main, [flag, value, "-o", tmp_path / "c.pt"], needle)
    assert not list(tmp_path.iterdir())


def test_report_refuses_an_existing_file_as_out_before_running(good, tmp_path, capsys, monkeypatch):
    out = tmp_path / "taken"
    out.write_text("keep me")
    monkeypatch.setattr(report_build, "model_from_checkpoint", lambda *a: pytest.fail("ran before checking"))
    refused(capsys, report.main, [good / "ckpt.pt", "--out", out], "taken", "not a directory")
    assert out.read_text() == "keep me"


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    # the child gets Ctrl-C as a user's command does, whatever this runner inherited: a run
    # started in the background by a shell without job control ignores SIGINT (and Python then
    # installs no KeyboardInterrupt handler), and a blocked SIGINT would be inherited too
    def as_from_a_terminal():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    p = subprocess.Popen([sys.executable, str(ROOT / "models" / "train.py"), "--epochs", "1000",
                          "--neuron", "lif", "-o", str(tmp_path / "c.pt")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=as_from_a_terminal)
    p.stdout.readline()                        # the first epoch's line: inside the loop now
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    lines = [l for l in err.splitlines() if l.strip() and "it/s]" not in l and "%|" not in l]
    # the first epoch's checkpoint may be in place by the time Ctrl-C lands: the line says which
    said = (f"wrote {tmp_path / 'c.pt'} before it" if (tmp_path / "c.pt").exists() else "no output was written")
    assert p.returncode == 130 and lines == [f"error: interrupted (Ctrl-C); {said}"], err


# 6. no silent no-ops, messages that say what is wrong ----------------------------------------

@pytest.mark.parametrize("flag,value,recorded", [("--dataset", "mnist", "digits"), ("--timesteps", "8", "4"),
                                                  ("--arch", "nirnet", "digitnet"), ("--optimizer", "adamw", "sgd"),
                                                  ("--neuron", "staa", "lif"), ("--lr", "0.5", "0.1")])
def test_resume_with_another_network_data_or_optimiser_is_refused(good, tmp_path, capsys, flag, value, recorded):
    """Issue 42: the checkpoint's recorded config decides; only how long and where may change."""
    line = refused(capsys, train.main, ["--resume", good / "ckpt.pt", flag, value, "--epochs", "99",
                                        "-o", tmp_path / "c.pt"], f"{flag} {value}: ", "ckpt.pt",
                   f"was trained with {flag} {recorded}, which a resume keeps")
    assert "--epochs" in line and not list(tmp_path.iterdir())


def test_resume_takes_the_checkpoints_config_and_the_options_it_may_change(good):
    from spikefold.models.checkpoint import resume_configs
    ckpt = torch.load(good / "ckpt.pt", weights_only=True)
    mcfg, tcfg = resume_configs(good / "ckpt.pt", {"epochs": 99, "neuron": "lif", "threads": 1})
    assert mcfg.to_dict() == ckpt["model_config"] and (tcfg.epochs, tcfg.threads) == (99, 1)
    assert {k: v for k, v in vars(tcfg).items() if k not in ("epochs", "threads")} == \
        {k: v for k, v in ckpt["train_config"].items() if k not in ("epochs", "threads")}


def test_resume_past_the_freeze_accepts_the_attention_it_was_trained_with(good, tmp_path):
    """The static phase records staa_attention "static"; the command that trained it said
    "dynamic" (the default), and saying it again on --resume is no change."""
    from spikefold.models.checkpoint import resume_configs
    ckpt = torch.load(good / "ckpt.pt", weights_only=True)
    ckpt["model_config"]["staa_attention"] = "static"
    ckpt["static"] = {"epoch": 1, "test_acc": 50.0, "calibration_samples": 8, "folds": []}
    torch.save(ckpt, tmp_path / "frozen.pt")
    mcfg, _ = resume_configs(tmp_path / "frozen.pt", {"staa_attention": "dynamic", "epochs": 9})
    assert mcfg.staa_attention == "static"


@pytest.mark.parametrize("record", ["optimizer", "scheduler", "epoch", "metrics"])
def test_resume_of_a_checkpoint_without_its_records_is_refused(good, tmp_path, capsys, record):
    ckpt = torch.load(good / "ckpt.pt", weights_only=True)
    del ckpt[record]
    torch.save(ckpt, tmp_path / "cut.pt")
    refused(capsys, train.main, ["--resume", tmp_path / "cut.pt", "--epochs", "99", "-o", tmp_path / "c.pt"],
            "cut.pt: cannot resume", f"its {record} record is missing")


def test_resume_that_adds_no_epoch_is_refused(good, tmp_path, capsys):
    epochs = torch.load(good / "ckpt.pt", weights_only=True)["epoch"]
    refused(capsys, train.main, ["--resume", good / "ckpt.pt", "--epochs", epochs, "--neuron", "lif",
                                 "-o", tmp_path / "c.pt"], "ckpt.pt", f"already trained for {epochs}")


def test_a_directory_given_as_a_file(good, tmp_path, capsys):
    refused(capsys, to_nir.main, [tmp_path], str(tmp_path), "is a directory, not a checkpoint file")
    refused(capsys, run.main, [tmp_path], str(tmp_path), "is a directory, not a NIR file")


def test_an_unknown_node_type_is_named(good, tmp_path, capsys):
    path = tmp_path / "bad.nir"
    path.write_bytes((good / "m.nir").read_bytes())
    with h5py.File(path, "r+") as f:
        node = next(iter(f["node/nodes"]))
        del f["node/nodes"][node]["type"]
        f["node/nodes"][node]["type"] = b"Quantum"
    refused(capsys, run.main, [path], "bad.nir", f"node {node} has NIR type 'Quantum'")


def test_graph_errors_name_the_file(good, tmp_path, capsys):
    def wrong_shape(g):                       # the readout no longer fits its input
        aff = first(g, nir.Affine)
        aff.weight = np.ones((aff.weight.shape[0], aff.weight.shape[1] + 1))
    path = edited_nir(good, tmp_path, wrong_shape)
    for main in (run.main, to_netx.main):
        refused(capsys, main, [path], "bad.nir")


@pytest.mark.parametrize("main,flag", [(run.main, "--samples"), (to_lava.main, "--samples"),
                                       (report.main, "--samples")])
def test_negative_counts_are_refused(good, capsys, main, flag):
    target = good / ("ckpt.pt" if main is report.main else "m.nir")
    refused(capsys, main, [target, flag, "-1"], flag, "-1 must be >= 0")


# 7. outputs that belong together are written together ---------------------------------------

def test_an_interrupted_to_nir_leaves_the_old_pair(good, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m.nir"
    assert to_nir.main([str(good / "ckpt.pt"), "-o", str(out), "--eval-samples", "0", "--quiet"]) == 0
    before = snapshot(tmp_path)

    def interrupted(obj):
        def write(tmp):
            raise KeyboardInterrupt
        return write
    from spikefold.compile import lower_checkpoint as lowering      # what to_nir runs
    monkeypatch.setattr(lowering, "json_writer", interrupted)
    src = tmp_path / "src"
    src.mkdir()
    other = bad_checkpoint(good, src, 0.123)            # a new NIR file would differ
    refused(capsys, to_nir.main, [other, "-o", out, "--eval-samples", "0", "--quiet"],
            "interrupted", status=130)
    assert snapshot(tmp_path) == before          # old .nir and .fold.json, no temporaries


def test_an_interrupted_report_leaves_the_old_set(good, tmp_path, capsys, monkeypatch):
    argv = [str(good / "ckpt.pt"), "--nir", str(good / "m.nir"), "--samples", "16", "--quiet",
            "--out", str(tmp_path)]
    assert report.main(argv) == 0
    before = snapshot(tmp_path)
    assert set(before) == set(report_build.OUTPUTS)

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(report_build.plots, "energy", interrupted)
    refused(capsys, report.main, argv, "interrupted", status=130)
    assert snapshot(tmp_path) == before
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
