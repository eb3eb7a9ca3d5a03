"""compile/to_nir.py, the command: output files, the fold report, and bad input."""
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from spikefold.compile import to_nir
from spikefold.compile.lower_checkpoint import describe
from spikefold.compile.nir_io import read_nir
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.layers import TimeDistributed

ROOT = Path(__file__).resolve().parents[2]
CMD = [sys.executable, str(ROOT / "compile" / "to_nir.py")]


def run(*args):
    return subprocess.run(CMD + [str(a) for a in args], capture_output=True, text=True)


def test_lif_checkpoint_to_nir_with_report(lif_ckpt, tmp_path):
    out = tmp_path / "m.nir"
    r = run(lif_ckpt, "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stdout and "accuracy on 450 test samples" in r.stdout
    report = json.loads((tmp_path / "m.fold.json").read_text())
    assert report["fold"] == "calibrated" and report["folds"] == []  # nothing to calibrate in LIF
    acc = report["measure"]["accuracy"]
    assert acc["model"] == acc["folded"]
    graph = read_nir(out)
    meta = graph.meta["nir"]
    assert meta["checkpoint_sha256"] == report["checkpoint_sha256"] and meta["encoding"] == "direct"
    assert meta["arch"] == "digitnet" and meta["timesteps"] == 4


def test_default_output_sits_beside_the_checkpoint(lif_ckpt, tmp_path):
    ckpt = tmp_path / "net.pt"
    ckpt.write_bytes(Path(lif_ckpt).read_bytes())
    r = run(ckpt, "--eval-samples", "0", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "net.nir").is_file() and (tmp_path / "net.fold.json").is_file()


class RunsCode:
    def __reduce__(self):
        return (print, ("this pickle ran code",))


@pytest.mark.parametrize("kind", ["text", "code", "keys", "missing"])
def test_bad_checkpoints_exit_2_with_one_line_and_no_file(tmp_path, kind):
    bad = tmp_path / "bad.pt"
    if kind == "text":
        bad.write_text("hello")
    elif kind == "code":
        with open(bad, "wb") as f:
            pickle.dump(RunsCode(), f)
    elif kind == "keys":
        torch.save({"format": "spikefold-checkpoint", "version": "0",
                    "model_config": {"arch": "digitnet"}, "state_dict": {}}, bad)
    r = run(bad, "-o", tmp_path / "out.nir")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and "bad.pt" in r.stderr
    assert "ran code" not in r.stdout + r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["bad.pt"] if kind != "missing" else [])


GOOD_STATIC = {"epoch": 4, "test_acc": 97.5, "frozen_test_acc": 96.0, "calibration_samples": 256, "folds": []}


@pytest.mark.parametrize("forged, says", [
    ("a string", "static: not a record of frozen attention"),
    ({"epoch": "20"}, "static.epoch is '20', not a whole number of epochs in [0, 6]"),
    ({"epoch": 1000}, "static.epoch is '1000'"), ({"epoch": -3}, "static.epoch is '-3'"),
    ({"test_acc": float("nan")}, "static.test_acc is 'nan', not a percentage"),
    ({"test_acc": True}, "static.test_acc is 'True'"), ({"test_acc": 1e308}, "static.test_acc is '1e+308'"),
    ({"frozen_test_acc": "abc"}, "static.frozen_test_acc is 'abc'"),
    ({"calibration_samples": -1}, "static.calibration_samples is '-1', not a whole number >= 0"),
])
def test_a_bad_static_attention_record_is_one_line_and_no_file(lif_ckpt, tmp_path, forged, says):
    """Issue 42: the `static` record is validated like every other field (the report printed
    forged and NaN figures as the dynamic STAA's accuracy)."""
    ckpt = torch.load(lif_ckpt, weights_only=True)
    ckpt["static"] = forged if isinstance(forged, str) else {**GOOD_STATIC, **forged}
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    r = run(bad, "-o", tmp_path / "out.nir")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert f"bad.pt: {says}" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


def test_unsupported_module_exits_2_naming_it_and_writes_nothing(lif_ckpt, tmp_path, monkeypatch, capsys):
    def with_maxpool(path, *limits):
        model, ckpt = model_from_checkpoint(path)
        model.body[2] = TimeDistributed(nn.MaxPool2d(2))
        return model, ckpt

    from spikefold.compile import lower_checkpoint as lowering      # what to_nir runs
    monkeypatch.setattr(lowering, "model_from_checkpoint", with_maxpool)
    with pytest.raises(SystemExit) as e:
        to_nir.main([str(lif_ckpt), "-o", str(tmp_path / "m.nir"), "--quiet"])
    assert e.value.code == 2
    assert capsys.readouterr().err == "error: body.2.module: MaxPool2d is not supported by compile/\n"
    assert list(tmp_path.iterdir()) == []


def test_staa_without_calibration_is_refused(tmp_path):
    from spikefold.models.config import ModelConfig
    from spikefold.models.config import TrainConfig
    from spikefold.models.train import train
    ckpt = tmp_path / "staa.pt"
    train(ModelConfig(neuron="staa", num_classes=10, in_channels=1, input_size=8, timesteps=2),
          TrainConfig(epochs=1, static_epochs=0), str(ckpt), quiet=True)
    r = run(ckpt, "--fold", "none", "-o", tmp_path / "m.nir")
    assert r.returncode == 2 and "GC, SA cannot be folded exactly; use --fold calibrated" in r.stderr
    assert not (tmp_path / "m.nir").exists()


@pytest.mark.slow
def test_default_staa_reaches_the_chip_within_a_point_of_its_dynamic_accuracy(tmp_path):
    """Issue 24 on the path a user takes: models/train.py's recipe (dynamic epochs, then half as
    many with the attention frozen to the fold's constants: 10 + 5 here, sized for the suite's
    time; the defaults are 30 + 10), compile/to_nir.py's defaults.  The fold is
    exact, so the folded graph scores what the checkpoint scores (a float32 tie may move a sample),
    and that is within 1 point of the dynamic STAA's accuracy (the paper's network) on average
    over three seeds, and within 2 for each: trained weights differ from machine to machine
    (float summation order), so one seed's margin is a draw, three seeds' mean is not."""
    from spikefold.models.config import ModelConfig
    from spikefold.models.config import TrainConfig
    from spikefold.models.train import train
    gaps = []
    for seed in (0, 1, 2):
        ckpt = tmp_path / f"staa{seed}.pt"
        _, metrics = train(ModelConfig(neuron="staa", num_classes=10, in_channels=1, input_size=8, timesteps=4),
                           TrainConfig(epochs=10, static_epochs=5, seed=seed), str(ckpt), quiet=True)
        assert to_nir.main([str(ckpt), "--quiet"]) == 0       # in process: the command's own code
        fold = json.loads((tmp_path / f"staa{seed}.fold.json").read_text())
        acc = fold["measure"]["accuracy"]
        assert acc["model"] == pytest.approx(metrics["test_acc"]) and fold["calibration_samples"] == 0
        assert fold["attention_frozen_in_training"]["dynamic_test_accuracy"] == metrics["dynamic_test_acc"]
        assert abs(acc["folded"] - acc["model"]) <= 0.5, acc
        gaps.append(acc["folded"] - metrics["dynamic_test_acc"])
        print(f"\nseed {seed}: dynamic STAA {metrics['dynamic_test_acc']:.2f}%, static {acc['model']:.2f}%, "
              f"folded {acc['folded']:.2f}%")
    assert sum(gaps) / 3 >= -1.0 and min(gaps) >= -2.0, gaps


@pytest.mark.parametrize("accuracy, hint", [({"model": 96.67, "folded": 82.22}, True),
                                            ({"model": 96.67, "folded": 95.80}, False),
                                            ({"model": 96.67, "folded": 82.22, "finetuned": 96.89}, False)])
def test_summary_suggests_fine_tuning_when_folding_costs_over_a_point(accuracy, hint):
    report = {"output": "m.nir", "report_path": "m.fold.json", "arch": "digitnet", "neuron": "staa",
              "timesteps": 4, "fold": "calibrated", "seconds_total": 1.0, "folds": [],
              "peer": {"form": "portable", "caveat": ""},
              "measure": {"samples": 450, "accuracy": accuracy, "spike_agreement": {}}}
    text = describe(report)
    assert ("note: folding cost 14.45 points; --finetune-epochs N" in text) == hint
    assert ("models/train.py's static phase (--static-epochs" in text) == hint
    assert hint == ("note: folding cost" in text)
