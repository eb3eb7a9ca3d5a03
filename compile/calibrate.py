"""Measure STAA attention on calibration data: GC context vectors and SA gates per channel.

For every STAA-LIF module (by its path in the model) the forward hooks collect,
per timestep t and channel c, the mean over calibration samples of
    c_in[t, c]   GC1's context Wv(X[t])          (eq. 7-10, added to X)
    c_mem[t, c]  GC2's context Wv(H[t-1])        (added to H)
    gate[t, c]   SA's gate sigmoid(...)(U[t])    (eq. 12, multiplies U)
and their standard deviation over samples and timesteps, which says how far
a constant is from the real, input-dependent value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from models.fsta import FSTALIF
from models.sma import SMALIF
from models.staa_lif import STAALIF


@dataclass(frozen=True)
class GainStats:
    """FSTA's input gain g = FSTA(x) / x: mean over samples per (t, h, w), (T, H, W), and its std
    over samples and timesteps per (h, w)."""
    mean_t: np.ndarray
    std: np.ndarray
    samples: int


@dataclass(frozen=True)
class BranchStats:
    """SMA's branch weights A_T,i * A_C,i: mean over samples per (branch, t, c), (n, T, C)."""
    mean_t: np.ndarray
    samples: int


@dataclass(frozen=True)
class AttentionStats:
    """Per-timestep means (T, C) and overall std (C,) of one STAA-LIF's attention terms."""
    c_in: np.ndarray | None
    c_mem: np.ndarray | None
    gate: np.ndarray | None
    c_in_std: np.ndarray | None
    c_mem_std: np.ndarray | None
    gate_std: np.ndarray | None
    samples: int


class _Moments:
    """Running sum and sum of squares of (T, C) values over samples."""

    def __init__(self, T: int):
        self.T, self.n, self.sum, self.sq = T, None, None, None

    def add(self, t: int, values: torch.Tensor):  # values (B, C)
        v = values.detach().double().cpu().numpy()
        if self.sum is None:
            c = v.shape[1]
            self.n, self.sum, self.sq = np.zeros(self.T), np.zeros((self.T, c)), np.zeros((self.T, c))
        self.n[t] += v.shape[0]
        self.sum[t] += v.sum(0)
        self.sq[t] += (v * v).sum(0)

    def result(self):
        if self.sum is None:
            return None, None
        mean_t = self.sum / self.n[:, None]
        mean = self.sum.sum(0) / self.n.sum()
        var = self.sq.sum(0) / self.n.sum() - mean ** 2
        return mean_t, np.sqrt(np.maximum(var, 0.0))


def calibrate(model: torch.nn.Module, batches, timesteps: int, quiet: bool = False) -> dict:
    """{module path: AttentionStats} for every STAA-LIF in `model`, over `batches` of inputs."""
    moments, hooks, calls = {}, [], {}

    def track(key, T):
        moments[key] = _Moments(T)
        calls[key] = 0

    def step(key, per_call_t):
        t = calls[key] % timesteps if per_call_t else None
        calls[key] += 1
        return t

    for path, mod in model.named_modules():
        if not isinstance(mod, STAALIF):
            continue
        if mod.gc_in is not None:
            for part in ("c_in", "c_mem"):
                track((path, part), timesteps)

            def hook_in(m, inp, out, path=path):
                ctx = (out - inp[0]).flatten(2)[..., 0] if out.dim() > 2 else out - inp[0]
                ctx = ctx.view(timesteps, -1, ctx.shape[-1])
                for t in range(timesteps):
                    moments[(path, "c_in")].add(t, ctx[t])

            def hook_mem(m, inp, out, path=path):
                ctx = (out - inp[0]).flatten(2)[..., 0] if out.dim() > 2 else out - inp[0]
                moments[(path, "c_mem")].add(step((path, "c_mem"), True), ctx)

            hooks += [mod.gc_in.register_forward_hook(hook_in),
                      mod.gc_mem.register_forward_hook(hook_mem)]
        if mod.sa is not None:
            track((path, "gate"), timesteps)

            def hook_sa(m, inp, out, path=path):
                g = m.gate(inp[0])
                moments[(path, "gate")].add(step((path, "gate"), True), g.view(g.shape[:2]))

            hooks.append(mod.sa.register_forward_hook(hook_sa))
    gains = {}
    for path, mod in model.named_modules():
        if isinstance(mod, FSTALIF):
            gains[path] = {"sum": 0.0, "sq": 0.0, "n": 0}

            def hook_fsta(m, inp, out, path=path):
                x = inp[0] if inp[0].dim() == 5 else inp[0][..., None, None]
                g = m.gain(x)[:, :, 0].detach().double()          # (T, B, H, W)
                acc = gains[path]
                acc["sum"] = acc["sum"] + g.sum(1)
                acc["sq"] = acc["sq"] + (g * g).sum(1)
                acc["n"] += g.shape[1]

            hooks.append(mod.fsta.register_forward_hook(hook_fsta))
    branch = {}
    for path, mod in model.named_modules():
        if isinstance(mod, SMALIF):
            branch[path] = {"sum": 0.0, "n": 0}

            def hook_sma(m, inp, out, path=path):
                acc = branch[path]
                acc["sum"] = acc["sum"] + out.detach().double().sum(2)   # (n, T, C)
                acc["n"] += out.shape[2]

            hooks.append(mod.attention.register_forward_hook(hook_sma))
    was_training = model.training
    model.eval()
    samples = 0
    try:
        with torch.no_grad():
            for x in tqdm(batches, desc="calibrate", disable=quiet, leave=False):
                model(x)
                samples += x.shape[0]
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    stats = {}
    for path, acc in branch.items():
        stats[path] = BranchStats((acc["sum"] / acc["n"]).numpy(), acc["n"])
    for path, acc in gains.items():
        mean_t = (acc["sum"] / acc["n"]).numpy()
        var = (acc["sq"].sum(0) / (acc["n"] * mean_t.shape[0])).numpy() - mean_t.mean(0) ** 2
        stats[path] = GainStats(mean_t, np.sqrt(np.maximum(var, 0.0)), acc["n"])
    for path, mod in model.named_modules():
        if isinstance(mod, STAALIF):
            got = {part: moments[(path, part)].result() if (path, part) in moments else (None, None)
                   for part in ("c_in", "c_mem", "gate")}
            stats[path] = AttentionStats(got["c_in"][0], got["c_mem"][0], got["gate"][0],
                                         got["c_in"][1], got["c_mem"][1], got["gate"][1], samples)
    return stats
