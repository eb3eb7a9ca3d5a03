"""Checkpoints: what train.py writes and every later stage reads.

A checkpoint is a dict saved with torch.save and loaded with
torch.load(..., weights_only=True) (so a malicious pickle cannot run code):

    format        "spikefold-checkpoint"
    version       spikefold version that wrote it
    model_config  ModelConfig as a dict
    train_config  TrainConfig as a dict
    state_dict    model parameters and buffers
    metrics       {"test_acc", "train_acc", "train_loss", "epoch", "history": [...]}
    epoch         epochs completed
    optimizer, scheduler   state for --resume
    static        (a STAA whose attention was frozen in training, model_config.staa_attention
                  "static") {"epoch": frozen after, "test_acc": the dynamic network's,
                  "frozen_test_acc", "calibration_samples", "folds": the folds' notes}
"""

from __future__ import annotations

import errno
import math
import pickle
import re
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import torch

from spikefold.common import validate
from spikefold.common.atomic import atomic_write
from spikefold.common.errors import InputError
from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig, TrainConfig

FORMAT = "spikefold-checkpoint"
REQUIRED = ("format", "version", "model_config", "state_dict")
TRAIN_FIELDS = {f.name for f in fields(TrainConfig)}


class CheckpointError(InputError):
    """str(e) is one line naming the file and the problem."""


def save_checkpoint(ckpt: dict, path: str | Path) -> None:
    """Write atomically: a crash never leaves a partial file at `path`; a write that fails (a full
    disk) is a WriteError naming `path`."""
    def write(tmp):
        try:
            torch.save(ckpt, tmp)
        except RuntimeError as e:     # torch's zip writer reports a failed write as RuntimeError
            raise OSError(errno.EIO, f"torch.save failed: {str(e).splitlines()[0][:100]}") from None
    atomic_write(path, write)


def load_checkpoint(path: str | Path, max_mb: float = validate.MAX_MB) -> dict:
    """The checkpoint dict, validated (declared size before loading, finite weights, a
    model config in range); CheckpointError for anything else."""
    try:
        path = validate.input_file(path, "checkpoint file")
        validate.checkpoint_size(path, max_mb)
    except InputError as e:
        raise CheckpointError(str(e)) from None
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "global" not in str(e).lower():   # not a refused import: bytes that are no pickle
            raise CheckpointError(f"{path}: not a spikefold checkpoint (not a torch file)") from None
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(f"{path}: holds Python objects that would run code when loaded{what}; "
                              f"not loaded (spikefold loads weights only)") from None
    except Exception as e:  # pickle/zip errors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a spikefold checkpoint ({first[:200]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a spikefold checkpoint (no '{FORMAT}' marker)")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    try:
        ModelConfig.from_dict(ckpt["model_config"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad model_config ({str(e).strip(chr(39))})") from None
    tc = ckpt.get("train_config", {})
    if not isinstance(tc, dict):
        raise CheckpointError(f"{path}: train_config is a {type(tc).__name__}, not a dict of settings")
    try:
        TrainConfig(**{k: v for k, v in tc.items() if k in TRAIN_FIELDS})
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad train_config ({str(e).strip(chr(39))})") from None
    if not isinstance(ckpt["state_dict"], dict):
        raise CheckpointError(f"{path}: state_dict is not a dict of tensors")
    if ckpt.get("static") is not None:
        check_static(path, ckpt["static"], tc)
    try:
        validate.finite_tensors(path, ckpt["state_dict"])
    except InputError as e:
        raise CheckpointError(str(e)) from None
    return ckpt


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _percent(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 100


def check_static(path, frozen, train_config: dict) -> None:
    """The `static` record (a STAA frozen in training) validated like every other field: epoch a
    whole number within the run's epochs, accuracies percentages, calibration samples >= 0, folds
    a list of fold records.  CheckpointError naming static.FIELD and its value otherwise: what the report
    prints from it is never NaN or a forged figure."""
    if not isinstance(frozen, dict):
        raise CheckpointError(f"{path}: static: not a record of frozen attention (epoch, test_acc, "
                              f"calibration_samples, folds)")
    epochs = train_config.get("epochs")
    checks = {"epoch": _whole(frozen.get("epoch")) and 0 <= frozen["epoch"] <= (epochs if _whole(epochs) else 10 ** 6),
              "test_acc": _percent(frozen.get("test_acc")),
              "frozen_test_acc": "frozen_test_acc" not in frozen or _percent(frozen["frozen_test_acc"]),
              "calibration_samples": _whole(frozen.get("calibration_samples")) and frozen["calibration_samples"] >= 0,
              "folds": isinstance(frozen.get("folds"), list) and all(isinstance(f, dict) for f in frozen["folds"])}
    want = {"epoch": f"a whole number of epochs in [0, {epochs if _whole(epochs) else 10 ** 6}]",
            "test_acc": "a percentage in [0, 100]", "frozen_test_acc": "a percentage in [0, 100]",
            "calibration_samples": "a whole number >= 0", "folds": "a list of fold records"}
    for key, ok in checks.items():
        if not ok:
            raise CheckpointError(f"{path}: static.{key} is {str(frozen.get(key))[:40]!r}, not {want[key]}")


def model_from_checkpoint(path: str | Path, max_mb: float = validate.MAX_MB) -> tuple[torch.nn.Module, dict]:
    """(network in eval mode with the checkpoint's weights, checkpoint dict)."""
    ckpt = load_checkpoint(path, max_mb)
    try:
        model = build_model(ModelConfig.from_dict(ckpt["model_config"]))
    except ValueError as e:
        raise CheckpointError(f"{path}: {str(e).splitlines()[0]}") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the model config "
                              f"({str(e).splitlines()[0]})") from None
    return model.eval(), ckpt


# What a --resume may change: how long it trains and where it runs.  Everything else (the network,
# the data, the optimiser and its schedule) is the checkpoint's: its weights and optimiser state
# only mean something with them.
RESUMABLE = ("epochs", "static_epochs", "workers", "threads", "device", "data_root")


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


def resume_configs(path, given: dict) -> tuple[ModelConfig, TrainConfig]:
    """The (model, training) configs a resume of checkpoint `path` runs with: the checkpoint's,
    with the RESUMABLE options among `given` ({field: value}, the options the user typed).  Any
    other option given with a value other than the checkpoint's is refused (CheckpointError
    naming the option and the checkpoint's value), as is a checkpoint without the records a resume
    continues from (optimizer, scheduler, epoch, metrics)."""
    ckpt = load_checkpoint(path)
    kinds = {"optimizer": dict, "scheduler": dict, "epoch": int, "metrics": dict}
    for key, kind in kinds.items():
        if not isinstance(ckpt.get(key), kind) or isinstance(ckpt.get(key), bool) or (key == "epoch" and ckpt[key] < 0):
            raise CheckpointError(f"{path}: cannot resume: its {key} record is "
                                  f"{'missing' if key not in ckpt else repr(ckpt[key])[:40]}, not a {kind.__name__}")
    model = ModelConfig.from_dict(ckpt["model_config"])
    recorded = {**asdict(TrainConfig()), **{k: v for k, v in ckpt.get("train_config", {}).items() if k in TRAIN_FIELDS},
                **asdict(model)}
    if ckpt.get("static") is not None:       # the static phase froze the attention it was given as dynamic
        recorded["staa_attention"] = "dynamic"
    for name, value in sorted(given.items()):
        if name in recorded and name not in RESUMABLE and not _same(value, recorded[name]):
            flag = "--" + name.replace("_", "-")
            raise CheckpointError(f"{flag} {value}: {path} was trained with {flag} {recorded[name]}, which a resume "
                                  f"keeps (it may change --{', --'.join(r.replace('_', '-') for r in RESUMABLE)})")
    train = {k: v for k, v in recorded.items() if k in TRAIN_FIELDS}
    return model, TrainConfig(**{**train, **{k: v for k, v in given.items() if k in RESUMABLE}})
