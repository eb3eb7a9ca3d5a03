"""Measure input-dependent attention on calibration data, for the calibrated folds.

For every STAA-LIF module (by its path in the model) the forward hooks collect,
per timestep t and channel c, the mean over calibration samples of
    c_in[t, c]   GC1's context Wv(X[t])          (eq. 7-10, added to X)
    c_mem[t, c]  GC2's context Wv(H[t-1])        (added to H)
    gate[t, c]   SA's gate sigmoid(...)(U[t])    (eq. 12, multiplies U)
and their standard deviation over samples and timesteps, which says how far
a constant is from the real, input-dependent value.  Likewise FSTA's input gain
g[t, h, w] (models/fsta.py), and SMA's branch attention A[i, t, c] (models/sma.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from spikefold.models.fsta import FSTALIF
from spikefold.models.sma import SMAConvBNSpike
from spikefold.models.staa_lif import STAALIF


@dataclass(frozen=True)
class GainStats:
    """FSTA's input gain g = FSTA(x) / x: mean over samples per (t, h, w), (T, H, W), and its std
    over samples and timesteps per (h, w)."""
    mean_t: np.ndarray
    std: np.ndarray
    samples: int


@dataclass(frozen=True)
class MixStats:
    """SMA's attention A (branches, T, B, C) of one unit: mean over samples per timestep
    (T, branches, C), and its std over samples and timesteps (branches, C)."""
    mean_t: np.ndarray
    std: np.ndarray
    samples: int


@dataclass(frozen=True)
class AttentionStats:
    """Per-timestep means (T, C) and std over samples and timesteps (C,) of one STAA-LIF's attention terms."""
    c_in: np.ndarray | None
    c_mem: np.ndarray | None
    gate: np.ndarray | None
    c_in_std: np.ndarray | None
    c_mem_std: np.ndarray | None
    gate_std: np.ndarray | None
    samples: int


class _Moments:
    """Running sum and sum of squares, per timestep, of values of any shape over samples."""

    def __init__(self, T: int):
        self.T, self.n, self.sum, self.sq = T, np.zeros(T), None, None

    def add(self, t: int, values: torch.Tensor):  # values (B, ...): one row per sample
        v = values.detach().double().cpu().numpy()
        if self.sum is None:
            self.sum, self.sq = np.zeros((self.T, *v.shape[1:])), np.zeros((self.T, *v.shape[1:]))
        self.n[t] += v.shape[0]
        self.sum[t] += v.sum(0)
        self.sq[t] += (v * v).sum(0)

    def add_steps(self, values: torch.Tensor):  # values (T, B, ...)
        for t in range(self.T):
            self.add(t, values[t])

    def result(self):
        """(mean per timestep (T, ...), std over samples and timesteps (...)), or (None, None)."""
        if self.sum is None:
            return None, None
        per_t = self.n.reshape(-1, *([1] * (self.sum.ndim - 1)))
        mean = self.sum.sum(0) / self.n.sum()
        var = self.sq.sum(0) / self.n.sum() - mean ** 2
        return self.sum / per_t, np.sqrt(np.maximum(var, 0.0))


def has_live_attention(model: torch.nn.Module) -> bool:
    """Whether `model` holds attention that `calibrate` measures: a dynamic STAA-LIF's GC or SA,
    FSTA, SMA.  A deployable (static) STAA holds none: its folds need no calibration."""
    return any(isinstance(m, (FSTALIF, SMAConvBNSpike)) or
               (isinstance(m, STAALIF) and (m.gc_in is not None or m.sa is not None))
               for m in model.modules())


def _attach_hooks(model: torch.nn.Module, timesteps: int) -> tuple[dict, list]:
    """Hook every attention term `calibrate` measures: ({(module path, term): _Moments}, handles)."""
    moments, hooks, calls = {}, [], {}

    def track(key):
        moments[key] = _Moments(timesteps)
        calls[key] = 0

    def next_step(key) -> int:
        """Modules called once per timestep (GC on H, SA): the step of this call."""
        t = calls[key] % timesteps
        calls[key] += 1
        return t

    for path, mod in model.named_modules():
        if isinstance(mod, STAALIF) and mod.gc_in is not None:
            track((path, "c_in"))
            track((path, "c_mem"))

            def hook_in(m, inp, out, path=path):
                ctx = (out - inp[0]).flatten(2)[..., 0] if out.dim() > 2 else out - inp[0]
                moments[(path, "c_in")].add_steps(ctx.view(timesteps, -1, ctx.shape[-1]))

            def hook_mem(m, inp, out, path=path):
                ctx = (out - inp[0]).flatten(2)[..., 0] if out.dim() > 2 else out - inp[0]
                moments[(path, "c_mem")].add(next_step((path, "c_mem")), ctx)

            hooks += [mod.gc_in.register_forward_hook(hook_in),
                      mod.gc_mem.register_forward_hook(hook_mem)]
        if isinstance(mod, STAALIF) and mod.sa is not None:
            track((path, "gate"))

            def hook_sa(m, inp, out, path=path):
                g = m.gate(inp[0])
                moments[(path, "gate")].add(next_step((path, "gate")), g.view(g.shape[:2]))

            hooks.append(mod.sa.register_forward_hook(hook_sa))
        if isinstance(mod, FSTALIF):
            track((path, "gain"))

            def hook_fsta(m, inp, out, path=path):
                x = inp[0] if inp[0].dim() == 5 else inp[0][..., None, None]
                moments[(path, "gain")].add_steps(m.gain(x)[:, :, 0])          # (T, B, H, W)

            hooks.append(mod.fsta.register_forward_hook(hook_fsta))
        if isinstance(mod, SMAConvBNSpike):
            track((path, "mix"))

            def hook_sma(m, inp, out, path=path):
                moments[(path, "mix")].add_steps(out.permute(1, 2, 0, 3))           # (T, B, n, C)

            hooks.append(mod.sma.attention.register_forward_hook(hook_sma))
    return moments, hooks


def _run_batches(model: torch.nn.Module, batches, hooks: list, quiet: bool, device) -> int:
    """Run `model` (eval, on `device`) over `batches`, then unhook and restore it; the samples seen."""
    was_training = model.training
    home = next(model.parameters()).device
    device = torch.device(device) if device is not None else home
    model.eval().to(device)
    samples = 0
    try:
        with torch.no_grad():
            for x in tqdm(batches, desc="calibrate", disable=quiet, leave=False):
                model(x.to(device))
                samples += x.shape[0]
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training).to(home)
    return samples


def _collect_stats(model: torch.nn.Module, moments: dict, samples: int) -> dict:
    """{module path: GainStats, MixStats or AttentionStats} from the filled `moments`."""
    stats = {}
    for path, mod in model.named_modules():
        if isinstance(mod, FSTALIF):
            stats[path] = GainStats(*moments[(path, "gain")].result(), samples)
        if isinstance(mod, SMAConvBNSpike):
            stats[path] = MixStats(*moments[(path, "mix")].result(), samples)
        if isinstance(mod, STAALIF):
            got = {part: moments[(path, part)].result() if (path, part) in moments else (None, None)
                   for part in ("c_in", "c_mem", "gate")}
            stats[path] = AttentionStats(got["c_in"][0], got["c_mem"][0], got["gate"][0],
                                         got["c_in"][1], got["c_mem"][1], got["gate"][1], samples)
    return stats


def calibrate(model: torch.nn.Module, batches, timesteps: int, quiet: bool = False,
              device: torch.device | str | None = None) -> dict:
    """{module path: stats} for every STAA-LIF (AttentionStats), FSTA-LIF (GainStats) and SMA unit
    (MixStats) in `model`,
    over `batches` of inputs; run on `device` (default: where the model is), the model returned
    to its own device afterwards.  Statistics are accumulated in float64 on the CPU; on a GPU the
    float32 forward rounds differently, so they agree with the CPU's to float32 precision, not
    bit for bit."""
    moments, hooks = _attach_hooks(model, timesteps)
    return _collect_stats(model, moments, _run_batches(model, batches, hooks, quiet, device))
