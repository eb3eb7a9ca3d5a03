"""Compiler passes: each a function Graph -> new Graph that never mutates its input.

Exact passes (outputs unchanged up to float rounding, each tested for it):
    fold_batchnorm, materialize_shortcuts, fold_avgpool, fold_position_encoding
    (exact when Pos is constant in t), lower_staa, fold_neuron_gain
Calibrated passes (replace a data-dependent term by its mean on calibration data):
    fold_global_context, fold_step_attention, fold_fsta, fold_sma
"""
from spikefold.compile.passes.fold_avgpool import fold_avgpool
from spikefold.compile.passes.fold_batchnorm import fold_batchnorm
from spikefold.compile.passes.fold_fsta import fold_fsta
from spikefold.compile.passes.fold_neuron_gain import fold_neuron_gain
from spikefold.compile.passes.fold_global_context import fold_global_context
from spikefold.compile.passes.fold_position_encoding import fold_position_encoding
from spikefold.compile.passes.fold_sma import fold_sma
from spikefold.compile.passes.fold_step_attention import fold_step_attention
from spikefold.compile.passes.lower_staa import lower_staa
from spikefold.compile.passes.materialize_shortcuts import materialize_shortcuts

__all__ = ["fold_avgpool", "fold_batchnorm", "fold_fsta", "fold_global_context", "fold_neuron_gain",
           "fold_position_encoding", "fold_sma", "fold_step_attention", "lower_staa", "materialize_shortcuts"]
