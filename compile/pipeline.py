"""The lowering pipeline: a trained spikefold network -> a graph NIR can hold.

    trace -> fold_batchnorm -> materialize_shortcuts -> fold_avgpool
          -> [fold_global_context -> fold_position_encoding -> fold_step_attention]  (STAA)
          -> [fold_fsta]                                                            (FSTA)
          -> [fold_sma]                                                             (SMA)
          -> lower_staa -> fold_neuron_gain

fold="calibrated" measures GC contexts, SA gates, FSTA gains and SMA's attention
on `calib_batches`;
fold="none" applies only the exact passes and refuses a network that still
has live attention (or a Pos that varies over t) with a one-line error.
"""
from __future__ import annotations

from spikefold.compile.calibrate import calibrate, has_live_attention
from spikefold.compile.graph import Graph
from spikefold.compile.nodes import SMA, FstaLIF, StaaLIF
from spikefold.compile.passes import (fold_avgpool, fold_batchnorm, fold_fsta, fold_global_context, fold_neuron_gain,
                            fold_position_encoding, fold_sma, fold_step_attention, lower_staa,
                            materialize_shortcuts)
from spikefold.compile.from_torch import trace

FOLD_MODES = ("calibrated", "none")


class FoldRefused(ValueError):
    """str(e): one line naming the node that needs a calibrated fold."""


def exact_prefix(model, input_shape) -> Graph:
    """The traced graph after the exact structural folds (still holding StaaLIF nodes)."""
    return fold_avgpool(materialize_shortcuts(fold_batchnorm(trace(model, input_shape))))


def fold_staa_attention(graph: Graph, stats: dict) -> Graph:
    """STAA's calibrated folds, in their order: GC's contexts, then Pos (GC saw it), then SA's gate."""
    return fold_step_attention(fold_position_encoding(fold_global_context(graph, stats)), stats)


def lower(model, input_shape, fold: str = "calibrated", calib_batches=None,
          quiet: bool = True, device=None) -> Graph:
    if fold not in FOLD_MODES:
        raise ValueError(f"fold must be one of {FOLD_MODES} (got {fold!r})")
    graph = exact_prefix(model, input_shape)
    staa, fsta, sma = graph.of_type(StaaLIF), graph.of_type(FstaLIF), graph.of_type(SMA)
    if fold == "calibrated" and has_live_attention(model):     # a static STAA has none
        if calib_batches is None:
            raise ValueError("calibrated folding needs calibration batches")
        stats = calibrate(model, calib_batches, int(graph.meta["timesteps"]), quiet=quiet, device=device)
        graph = fold_sma(fold_fsta(fold_staa_attention(graph, stats), stats), stats)
    elif sma:
        raise FoldRefused(f"node {sma[0]} ({graph.nodes[sma[0]].source}): SMA's attention weights depend on "
                          f"the branch spikes and cannot be folded exactly; use --fold calibrated")
    elif fsta:
        raise FoldRefused(f"node {fsta[0]} ({graph.nodes[fsta[0]].source}): FSTA's input-dependent gain "
                          f"cannot be folded exactly; use --fold calibrated")
    else:
        for name in staa if fold == "none" else ():
            node = graph.nodes[name]
            live = [p for p, on in (("GC", node.gc), ("SA", node.sa)) if on]
            if not live and node.pos is not None and (node.pos != node.pos.mean(0)).any():
                live = ["Pos varying over t"]
            if live:
                raise FoldRefused(f"node {name} ({node.source}): {', '.join(live)} cannot be folded "
                                  f"exactly; use --fold calibrated")
        graph = fold_position_encoding(graph)
    graph = fold_neuron_gain(lower_staa(graph))
    return graph.with_meta(fold=fold)
