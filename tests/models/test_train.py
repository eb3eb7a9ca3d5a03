"""models/train.py: checkpoints, resume, bad input, and DistributedDataParallel on 2 CPU ranks."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from spikefold.models.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from spikefold.models.config import ModelConfig

ROOT = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, str(ROOT / "models" / "train.py")]


def run(args, **kw):
    return subprocess.run(TRAIN + args, capture_output=True, text=True, **kw)


def test_train_writes_a_weights_only_checkpoint_and_resumes(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    r = run(["--neuron", "lif", "--epochs", "2", "--batch-size", "64", "--timesteps", "2",
             "-o", str(ckpt), "--quiet"])
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout
    c = torch.load(ckpt, weights_only=True)  # loads without running any code
    assert c["format"] == "spikefold-checkpoint" and c["epoch"] == 2
    assert ModelConfig.from_dict(c["model_config"]).timesteps == 2
    assert c["train_config"]["epochs"] == 2 and len(c["metrics"]["history"]) == 2

    r = run(["--neuron", "lif", "--epochs", "3", "--batch-size", "64", "--timesteps", "2",
             "-o", str(ckpt), "--resume", str(ckpt), "--quiet"])
    assert r.returncode == 0, r.stderr
    c3 = load_checkpoint(ckpt)
    assert c3["epoch"] == 3 and len(c3["metrics"]["history"]) == 3
    assert c3["metrics"]["history"][:2] == c["metrics"]["history"]
    assert c3["metrics"]["test_acc"] > 50  # three epochs of digits: far above chance (10 %)
    model, _ = model_from_checkpoint(ckpt)
    assert not model.training


def test_missing_dataset_is_a_one_line_error_and_no_file(tmp_path):
    out = tmp_path / "ckpt.pt"
    r = run(["--dataset", "cifar10", "--data-root", str(tmp_path / "nope"), "--arch", "res20m",
             "-o", str(out)])
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "cifar-10-batches-py" in r.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_unknown_dataset_and_arch_are_rejected(tmp_path):
    assert run(["--dataset", "fashion-mnist", "-o", str(tmp_path / "a.pt")]).returncode == 2
    r = run(["--arch", "resnet99", "-o", str(tmp_path / "a.pt")])
    assert r.returncode == 2 and "unknown arch 'resnet99'" in r.stderr


@pytest.mark.parametrize("content,problem", [
    (b"not a checkpoint", "not a spikefold checkpoint"),
    (None, "no 'spikefold-checkpoint' marker"),
])
def test_damaged_checkpoints_are_refused(tmp_path, content, problem):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"state_dict": {}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=problem):
        load_checkpoint(path)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    torch.save({"format": "spikefold-checkpoint", "x": Evil()}, path)
    with pytest.raises(CheckpointError, match=r"holds Python objects that would run code when loaded "
                                              r"\((posix|os|nt)\.system\); not loaded"):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


DDP_SCRIPT = textwrap.dedent("""
    import os, sys, torch
    from spikefold.models.config import ModelConfig
    from spikefold.models.config import TrainConfig
    from spikefold.models.train import train
    out = sys.argv[1]
    mcfg = ModelConfig(arch="digitnet", neuron="staa", timesteps=2)
    tcfg = TrainConfig(epochs=1, static_epochs=1, calib_samples=64, batch_size=128, threads=1, seed=3)
    model, metrics = train(mcfg, tcfg, os.path.join(out, "ckpt.pt"), quiet=True)
    torch.save(model.state_dict(), os.path.join(out, f"rank{os.environ['RANK']}.pt"))
""")


def test_ddp_two_cpu_ranks_hold_identical_weights(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(script), str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    ckpt = load_checkpoint(tmp_path / "ckpt.pt")  # written by rank 0 only
    assert ckpt["world_size"] == 2
    torch.manual_seed(3)
    from spikefold.models.backbones import build_model
    init = build_model(ModelConfig(arch="digitnet", neuron="staa", timesteps=2)).state_dict()
    changed = 0
    assert ckpt["model_config"]["staa_attention"] == "static" and ckpt["epoch"] == 2
    for k in w0:   # through the static phase too: each rank froze the same constants
        assert torch.equal(w0[k], w1[k]), k
        assert torch.equal(w0[k], ckpt["state_dict"][k]), k
        changed += k not in init or not torch.equal(w0[k], init[k])
    assert changed > len(w0) // 2  # the ranks trained, and stayed in step


def test_staa_trains_dynamic_then_static_and_resumes_in_the_static_phase(tmp_path):
    """The default STAA path: `epochs` with the paper's dynamic attention, then `static_epochs` with
    GC, SA and PE frozen to the fold's constants; the checkpoint records the dynamic network's
    accuracy, rebuilds as the static network, and resumes inside the static phase."""
    from spikefold.models.config import TrainConfig
    from spikefold.models.train import train
    ckpt = tmp_path / "staa.pt"
    mcfg = ModelConfig(arch="digitnet", neuron="staa", timesteps=2)
    train(mcfg, TrainConfig(epochs=2, static_epochs=1, calib_samples=64, seed=1), str(ckpt), quiet=True)
    c = load_checkpoint(ckpt)
    hist = c["metrics"]["history"]
    assert c["epoch"] == 3 and [h["attention"] for h in hist] == ["dynamic", "dynamic", "static"]
    assert c["static"]["test_acc"] == hist[1]["test_acc"] == c["metrics"]["dynamic_test_acc"]
    assert c["static"]["calibration_samples"] == 64 and c["static"]["folds"]
    model, _ = model_from_checkpoint(ckpt)
    assert model.cfg.staa_attention == "static"
    assert not any(k.startswith(("gc", "sa")) or ".gc_" in k or ".sa." in k or k.endswith(".pos")
                   for k in c["state_dict"]), "a static STAA holds no attention modules"
    r = run(["--neuron", "staa", "--timesteps", "2", "--epochs", "2", "--static-epochs", "2",
             "--calib-samples", "64", "--seed", "1", "-o", str(ckpt), "--resume", str(ckpt), "--quiet"])
    assert r.returncode == 0, r.stderr
    assert "static attention, what the chip runs" in r.stdout
    c4 = load_checkpoint(ckpt)
    assert c4["epoch"] == 4 and c4["static"] == c["static"]
    assert c4["metrics"]["history"][:3] == hist and c4["metrics"]["history"][3]["attention"] == "static"
    r = run(["--neuron", "staa", "--timesteps", "2", "--epochs", "2", "--static-epochs", "0", "-o",
             str(tmp_path / "dyn.pt"), "--quiet"])
    assert r.returncode == 0 and load_checkpoint(tmp_path / "dyn.pt")["model_config"]["staa_attention"] == "dynamic"
