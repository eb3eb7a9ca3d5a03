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
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from models.atomic import atomic_write
from models.backbones import build_model
from models.config import ModelConfig

FORMAT = "spikefold-checkpoint"
REQUIRED = ("format", "version", "model_config", "state_dict")


class CheckpointError(ValueError):
    """str(e) is one line naming the file and the problem."""


def save_checkpoint(ckpt: dict, path: str | Path) -> None:
    """Write atomically: a crash never leaves a partial file at `path`."""
    atomic_write(path, lambda tmp: torch.save(ckpt, tmp))


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict, validated; CheckpointError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle/zip errors, or a pickle that wants to run code
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a spikefold checkpoint ({first[:200]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a spikefold checkpoint (no '{FORMAT}' marker)")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    try:
        ModelConfig.from_dict(ckpt["model_config"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: bad model_config ({e})") from None
    return ckpt


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """(network in eval mode with the checkpoint's weights, checkpoint dict)."""
    ckpt = load_checkpoint(path)
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
