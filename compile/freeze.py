"""Freeze a trained STAA network's attention into the constants the chip will run, in place.

    freeze_attention(model, calib_batches) -> the calibrated folds' notes

STAA's GC contexts, SA gate and PE are functions of the data; no NIR node and no
neuromorphic core computes them, so `compile.pipeline.lower` replaces them with
per-channel constants measured on calibration inputs.  That replacement is what
costs STAA accuracy on the chip.  This function applies the *same* folds
(`fold_staa_attention`, on the same calibration statistics) and writes their
result back into every STAA-LIF module:

    V[t] = M' * H[t-1] + N' * I[t] + drive        M' = g M, N' = g N,
                                                   drive = g (N (c_in + mean_t Pos) + M c_mem)

so that training can go on with the attention static (models/train.py's static
phase) and the checkpoint it writes is exactly what `lower` emits: a deployable
STAA, whose fold costs nothing.  The model's config says so
(`staa_attention="static"`), so `models.checkpoint.model_from_checkpoint` rebuilds it.
"""
from __future__ import annotations

import dataclasses

from spikefold.compile.calibrate import calibrate, has_live_attention
from spikefold.compile.nodes import StaaLIF
from spikefold.compile.pipeline import exact_prefix, fold_staa_attention
from spikefold.models.layers import SpikingNet


def freeze_attention(model: SpikingNet, calib_batches, quiet: bool = True, device=None) -> list[dict]:
    """Make every STAA-LIF of `model` static with the calibrated constants measured on
    `calib_batches` (inputs as the model takes them); returns the folds' notes (mean gate, the
    std of each replaced term over samples and steps).  A model without STAA is left alone."""
    cfg = model.cfg
    graph = exact_prefix(model, (cfg.in_channels, cfg.input_size, cfg.input_size))
    staa = graph.of_type(StaaLIF)
    if not staa:
        return []
    stats = (calibrate(model, calib_batches, cfg.timesteps, quiet=quiet, device=device)
             if has_live_attention(model) else {})
    graph = fold_staa_attention(graph, stats)
    modules = dict(model.named_modules())
    for name in staa:
        node = graph.nodes[name]
        modules[node.source].make_static(node.leak, node.gain, node.drive)
    model.cfg = dataclasses.replace(cfg, staa_attention="static")
    return list(graph.meta.get("folds", ()))
