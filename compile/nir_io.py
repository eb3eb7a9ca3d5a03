"""Our graph <-> NIR files, with the discretisation written into the file so the round trip is exact.

    write_nir(graph, path, meta, form)       to_nir, then save_nir
    read_nir(path, max_mb, dt, timesteps)    sizes and node types checked before any array is
                                             read, then nir.read and from_nir

The work behind them, every name callers use importable from here:

    nir_format.py    the discretisation spikefold writes (v[t] = M v[t-1]' + I[t] as NIR's
                     continuous LIF at dt), the metadata keys, NIRFormatError
    nir_write.py     to_nir: one writer per node type of ours (WRITERS)
    nir_rewrite.py   a NIR graph made flat: subgraphs inlined, Scale and Delay folded
    nir_read.py      from_nir: one reader per NIR node type (READERS)
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import h5py
import nir
import numpy as np

from spikefold.compile.graph import Graph
from spikefold.compile.nir_format import (DISCRETISATION, DT_HELP, FOREIGN_RULE, NIR_OWN_KEYS, SPIKE_RULE,
                                          NIRFormatError, spikefold_metadata)
from spikefold.compile.nir_peers import DT, PEERS, PeerForm
from spikefold.compile.nir_read import check_values, from_nir
from spikefold.compile.nir_rewrite import LINEAR, NEURONS
from spikefold.compile.nir_write import to_nir
from spikefold.common import validate
from spikefold.common.errors import InputError

__all__ = ["DISCRETISATION", "DT", "DT_HELP", "FOREIGN_RULE", "KNOWN_TYPES", "LINEAR", "NEURONS", "NIR_OWN_KEYS",
           "NIRFormatError", "SPIKE_RULE", "from_nir", "read_nir", "save_nir", "spikefold_metadata", "to_nir",
           "write_nir"]

KNOWN_TYPES = {"Input", "Output", "Conv2d", "Affine", "Linear", "Flatten", "AvgPool2d", "SumPool2d", "LIF",
               "IF", "CubaLIF", "Delay", "NIRGraph", "Scale", "LI", "Conv1d", "Threshold"}


def write_nir(graph: Graph, path, meta: dict | None = None, form: PeerForm = PEERS["portable"]) -> None:
    save_nir(to_nir(graph, meta, form), path, form)


def save_nir(g: nir.NIRGraph, path, form: PeerForm = PEERS["portable"]) -> None:
    """nir.write, then, for a reader on NIR <= 1.0.4 (form.v_reset False), the LIF v_reset fields
    removed: that NIR rejects the field, and reads its absence as reset to 0.  The file is built
    in memory and written by Python: the HDF5 library writing onto a full disk can crash the
    process, where Python's write raises OSError (spikefold.common.atomic names the path)."""
    buf = io.BytesIO()
    nir.write(buf, g)
    if not form.v_reset:
        with h5py.File(buf, "r+") as f:
            for name, node in g.nodes.items():
                if isinstance(node, nir.LIF):
                    del f["node"]["nodes"][name]["v_reset"]
    Path(path).write_bytes(buf.getvalue())


def unchecked_form(g: nir.NIRGraph) -> str | None:
    """Why NIR's own type inference cannot judge this graph (it is then read without it, and
    from_nir checks every shape itself), or None: a grouped convolution (nir 1.0.8 sizes its
    input as weight.shape[1] channels, not times groups), or an Input of shape (1, T, F)
    (Rockpool 3.1: batch and time kept in the declared shape)."""
    for node in _all_nodes(g):
        if isinstance(node, (nir.Conv1d, nir.Conv2d)) and int(getattr(node, "groups", 1)) != 1:
            return "grouped convolution"
        if isinstance(node, nir.Input) and len(node.input_type.get("input", ())) == 3 \
                and int(node.input_type["input"][0]) == 1:
            return "input of shape (1, T, F)"
    return None


def _all_nodes(g: nir.NIRGraph):
    for node in g.nodes.values():
        yield node
        if isinstance(node, nir.NIRGraph):
            yield from _all_nodes(node)


def read_nir(path, max_mb: float = validate.MAX_MB, dt: float | None = None,
             timesteps: int | None = None) -> Graph:
    """Our graph of a NIR file, validated: declared sizes (at most `max_mb` MiB of arrays) and
    node types before any array is read, then values.  NIRFormatError names the file."""
    path = validate.input_file(path, "NIR file")
    try:
        validate.nir_declared(path, KNOWN_TYPES, max_mb)
    except InputError as e:
        raise NIRFormatError(str(e)) from None
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # NIR's shape inference warns on stride 0
        warnings.simplefilter("ignore")
        try:
            g = nir.read(path, type_check=False)
            for name, node in g.nodes.items():     # before NIR's own type inference divides by them
                check_values(name, node)
            form = spikefold_metadata(g).get("form") if "spikefold" in (g.metadata or {}) else None
            if not (form in PEERS and PEERS[form].channel_params) and not unchecked_form(g):
                g.infer_types()             # (C, 1, 1) neuron arrays: no NIR type match
                g.check_types()
        except InputError as e:
            raise NIRFormatError(f"{path}: {e}") from None
        except Exception as e:  # h5py/nir errors on foreign or damaged files
            raise NIRFormatError(f"{path}: not a NIR file ({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})") from None
    try:
        return from_nir(g, dt, timesteps)
    except (ValueError, KeyError, IndexError) as e:   # ours, and Graph.build's shape checks
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NIRFormatError(f"{path}: {text}") from None
