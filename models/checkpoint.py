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
import pickle
import re
import warnings
from dataclasses import fields
from pathlib import Path

import torch

from spikefold.common import validate
from spikefold.common.atomic import atomic_write
from spikefold.common.cli import InputError
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
    frozen = ckpt.get("static")
    if frozen is not None and not (isinstance(frozen, dict) and isinstance(frozen.get("epoch"), int)
                                   and isinstance(frozen.get("test_acc"), (int, float))
                                   and isinstance(frozen.get("calibration_samples"), int)
                                   and isinstance(frozen.get("folds"), list)):
        raise CheckpointError(f"{path}: static: not a record of frozen attention (epoch, test_acc, "
                              f"calibration_samples, folds)")
    try:
        validate.finite_tensors(path, ckpt["state_dict"])
    except InputError as e:
        raise CheckpointError(str(e)) from None
    return ckpt


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
