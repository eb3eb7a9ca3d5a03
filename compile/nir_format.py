"""What a spikefold NIR file says beyond NIR's nodes: the discretisation, the metadata, the error.

NIR's LIF is continuous: tau dv/dt = (v_leak - v) + r I.  spikefold fixes one
discretisation, forward Euler with dt = DT seconds, and records it in the
graph's metadata:

    v[t] = (1 - dt/tau) v[t-1]' + (dt/tau) (v_leak + r I[t])

A spikefold LIF  v[t] = M v[t-1]' + I[t]  (gain already folded into its input
weights, `fold_neuron_gain`) is written as tau = dt / (1 - M), r = 1, v_leak = 0,
v_reset = 0, v_threshold = v_th, and every synaptic layer feeding it has its
weights and bias divided by (1 - M), so that (dt/tau) r I = I.  r = 1 is the
form both snnTorch (which rescales the threshold by r dt / tau) and Norse
(which ignores r) read correctly.  Reading inverts it: M = 1 - dt/tau and an
input gain N = (dt/tau) r, with the weights as stored.

Spikes: spikefold's models fire at v >= v_threshold (STAA-SNN eq. 2); NIR's
nominal rule is v > v_threshold.  They differ only where v equals the
threshold exactly; the metadata says which rule the file was made with.
A file without spikefold metadata (FOREIGN_RULE, DT_HELP) is stepped the same
way at a dt the user passes.
"""
from __future__ import annotations

import json

import nir
import numpy as np

from spikefold.common.errors import InputError

SPIKE_RULE = "v >= v_threshold"
DISCRETISATION = {
    "euler": ("forward Euler: v[t] = (1 - dt/tau) v[t-1] + (dt/tau) (v_leak + r I[t]); "
              f"spike when {SPIKE_RULE}; then v = v_reset"),
    "zoh": ("exact for an input held over the step: v[t] = exp(-dt/tau) v[t-1] + (1 - exp(-dt/tau)) "
            f"(v_leak + r I[t]); spike when {SPIKE_RULE}; then v = v_reset")}


NIR_OWN_KEYS = ("dt", "integration", "form", "discretisation", "spike_rule", "timesteps", "folds", "sources")


class NIRFormatError(InputError):
    """str(e): one line naming what in the NIR file cannot be read."""


FOREIGN_RULE = "v > v_threshold"
DT_HELP = ("seconds per step for a graph without spikefold metadata (NIR's neurons are continuous; "
           "spikefold steps them by forward Euler: LIF v[t] = (1 - dt/tau) v[t-1] + (dt/tau) r I[t]; IF "
           "v[t] = v[t-1] + dt r I[t]; CubaLIF i[t] = (1 - dt/tau_syn) i[t-1] + (dt/tau_syn) w_in I[t], "
           "v[t] = (1 - dt/tau_mem) v[t-1] + (dt/tau_mem) r i[t]; spike when v > v_threshold, then "
           "v = v_reset). Pass the dt the "
           "exporter assumed: snnTorch's export_to_nir writes tau = dt / (1 - beta) with dt = 1e-4; "
           "Norse's to_nir takes dt (default 1e-3); Sinabs and Rockpool count tau in time steps (dt = 1)")


def text(v) -> str:
    """A name or string as h5py may hand it back (bytes), as str."""
    return v.decode() if isinstance(v, bytes) else str(v)


def spikefold_metadata(g: nir.NIRGraph) -> dict:
    """The metadata `to_nir` wrote into g (dt, timesteps, form, ...); NIRFormatError if none."""
    raw = (g.metadata or {}).get("spikefold")
    if raw is None:
        raise NIRFormatError("no spikefold metadata (dt, timesteps): not written by spikefold")
    return json.loads(text(raw))


def by_type(table: dict, node):
    """table[cls] for the first class in `table` (node class -> reader or writer) that `node` is an
    instance of, else None."""
    return next((f for cls, f in table.items() if isinstance(node, cls)), None)


def whole_pair(v, what: str) -> tuple:
    """A NIR (h, w) or scalar field of whole numbers (stride, dilation, padding, kernel size) as
    (h, w); NIRFormatError naming `what` ("node c1: stride") for a fraction: 1.5 is no stride."""
    a = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
        raise NIRFormatError(f"{what} {np.asarray(v).tolist()} must be whole numbers")
    return (int(a[0]), int(a[-1]))
