"""Parameters, operations, MACs and ACs of a spikefold network, counted as syops-counter does.

    python simulate/count.py --arch res20m --neuron staa --classes 100 --input 32 --timesteps 4
    python simulate/count.py --checkpoint ckpt.pt            (firing rates measured on its test data)

The convention of the paper's Table 7 (syops-counter, as read from its hooks):
every conv, linear, BatchNorm, pooling and neuron layer costs its dense operations
(conv: output elements x C_in x kh x kw; linear: out x in; BN: 2 x elements; pooling
and neurons: input elements), for each of the T timesteps.  A layer whose input holds
only 0/1 values (spikes) costs dense ops x firing rate of its input as ACs; any
other input (the image, BN outputs, average-pooled spikes) costs its dense ops as
MACs.  STAA's attention (GC: key conv, context sum, query, LayerNorm, value,
broadcast add; SA: pool, two 1x1 convs, gating product) is counted separately, and
its operations are added as MACs in `macs_with_attention` (its inputs are
membrane potentials, not spikes).  Firing rates come from a forward pass on real
test data when a checkpoint is given, else every neuron emits Bernoulli spikes at
`--rate` (a stated assumption).  Energy: MACs x 4.6 pJ + ACs x 0.9 pJ (45 nm).
"""
from __future__ import annotations


import sys

import torch
from torch import nn

from models.attention import GlobalContext, StepAttention
from models.backbones import build_model
from models.checkpoint import CheckpointError, model_from_checkpoint
from spikefold.cli import ArgumentParser, command, fail, positive_int, unit_float
from models.config import ModelConfig
from models.data import DatasetNotFound, load_dataset
from models.lif import LIF
from models.staa_lif import STAALIF
from simulate.constants import ENERGY_PJ
from simulate.paper import TABLE7, TABLE7_SETTING


def is_spike(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


def rate(x: torch.Tensor) -> float:
    return float((x != 0).float().mean())


def dense_ops(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    if isinstance(m, nn.Conv2d):
        return y.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Linear):
        return y.numel() * m.in_features
    if isinstance(m, nn.BatchNorm2d):
        return x.numel() * (2 if m.affine else 1)
    if isinstance(m, (nn.AvgPool2d, LIF, STAALIF)):
        return x.numel()
    return 0.0


def attention_ops(m: nn.Module, x: torch.Tensor) -> float:
    """Operations of one GC or SA call on x (N, C, H, W) (or (N, C))."""
    n, c = x.shape[:2]
    hw = x[0, 0].numel()
    if isinstance(m, GlobalContext):
        h = m.query.out_channels
        return n * (c * hw + c * hw + c * h + 2 * h + h * c + c * hw)   # key, sum, query, LN, value, add
    h = m.fc1.out_channels
    return n * (c * hw + c * h + h * c + c * hw)                         # pool, fc1, fc2, gate product


class Counter:
    def __init__(self, model: nn.Module):
        self.rows, self.attention = [], 0.0
        self.hooks = []
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.AvgPool2d, LIF, STAALIF)) and \
                    not _inside_attention(model, name):
                self.hooks.append(m.register_forward_hook(self._layer(name)))
            if isinstance(m, (GlobalContext, StepAttention)):
                self.hooks.append(m.register_forward_hook(self._attention))

    def _layer(self, name):
        def hook(m, inp, out):
            x = inp[0]
            ops = dense_ops(m, x, out)
            spike = is_spike(x)
            r = rate(x) if spike else 1.0
            self.rows.append({"layer": name, "type": type(m).__name__, "ops": ops, "spike_input": spike,
                              "input_rate": r, "acs": ops * r if spike else 0.0,
                              "macs": 0.0 if spike else ops})
        return hook

    def _attention(self, m, inp, out):
        self.attention += attention_ops(m, inp[0])

    def close(self):
        for h in self.hooks:
            h.remove()


def _inside_attention(model, name: str) -> bool:
    parts = name.split(".")
    for i in range(1, len(parts)):
        if isinstance(model.get_submodule(".".join(parts[:i])), (GlobalContext, StepAttention)):
            return True
    return False


def bernoulli_neurons(model: nn.Module, p: float, seed: int = 0):
    """Make every neuron emit Bernoulli(p) spikes (the stated-assumption mode)."""
    gen = torch.Generator().manual_seed(seed)
    hooks = []
    for m in model.modules():
        if isinstance(m, (LIF, STAALIF)):
            hooks.append(m.register_forward_hook(
                lambda mod, i, o: (torch.rand(o.shape, generator=gen) < p).to(o.dtype)))
    return hooks


def run_count(model: nn.Module, x: torch.Tensor) -> dict:
    """Counts per inference (averaged over the batch x)."""
    counter = Counter(model)
    try:
        with torch.no_grad():
            model(x)
    finally:
        counter.close()
    b = x.shape[0]
    total_params = sum(p.numel() for p in model.parameters())
    total = sum(r["ops"] for r in counter.rows) / b
    macs = sum(r["macs"] for r in counter.rows) / b
    acs = sum(r["acs"] for r in counter.rows) / b
    attn = counter.attention / b
    sa = sum(p.numel() for m in model.modules() if isinstance(m, StepAttention) for p in m.parameters())
    return {"params": total_params, "params_without_sa": total_params - sa,
            "ops": total, "ops_with_attention": total + attn, "macs": macs,
            "macs_with_attention": macs + attn, "acs": acs, "attention_ops": attn,
            "energy_pj": macs * ENERGY_PJ["mac_45nm"] + acs * ENERGY_PJ["ac_45nm"],
            "energy_with_attention_pj": (macs + attn) * ENERGY_PJ["mac_45nm"] + acs * ENERGY_PJ["ac_45nm"],
            "layers": [{**r, "ops": r["ops"] / b, "acs": r["acs"] / b, "macs": r["macs"] / b}
                       for r in counter.rows]}


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="count this network, rates from its test data")
    p.add_argument("--arch", default="res20m")
    p.add_argument("--neuron", default="staa")
    p.add_argument("--classes", type=positive_int, default=100)
    p.add_argument("--input", type=positive_int, default=32)
    p.add_argument("--in-channels", type=positive_int, default=3)
    p.add_argument("--timesteps", type=positive_int, default=4)
    p.add_argument("--rate", type=unit_float, default=0.15, help="assumed firing rate without a checkpoint")
    p.add_argument("--samples", type=positive_int, default=64, help="test samples for measured rates")
    p.add_argument("--data-root", default=None)
    p.add_argument("--json", default=None, help="also write the counts here")
    return p.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    hooks = []
    try:
        if args.checkpoint:
            model, ckpt = model_from_checkpoint(args.checkpoint)
            cfg = model.cfg
            tc = ckpt.get("train_config", {})
            ds = load_dataset(tc.get("dataset", "digits"), args.data_root or tc.get("data_root"), False,
                              cfg.timesteps, cfg.input_size)
            x = torch.stack([ds[i][0] for i in range(min(args.samples, len(ds)))])
            rates = "measured on test data"
        else:
            cfg = ModelConfig(arch=args.arch, neuron=args.neuron, num_classes=args.classes,
                              in_channels=args.in_channels, input_size=args.input, timesteps=args.timesteps)
            model = build_model(cfg).eval()
            hooks = bernoulli_neurons(model, args.rate)
            x = torch.rand(1, cfg.in_channels, cfg.input_size, cfg.input_size)
            rates = f"assumed: every neuron fires with probability {args.rate}"
    except (CheckpointError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    try:
        c = run_count(model, x)
    finally:
        for h in hooks:
            h.remove()
    c.update({"arch": cfg.arch, "neuron": cfg.neuron, "classes": cfg.num_classes, "input": cfg.input_size,
              "timesteps": cfg.timesteps, "rates": rates})
    print(f"{cfg.arch} {cfg.neuron}, {cfg.num_classes} classes, {cfg.input_size}x{cfg.input_size}, "
          f"T={cfg.timesteps}; firing rates {rates}")
    rows = [("params (M)", c["params"] / 1e6, "params_m"),
            ("operations (G)", c["ops"] / 1e9, "flops_g"),
            ("operations with attention (G)", c["ops_with_attention"] / 1e9, "flops_g"),
            ("MACs (G)", c["macs"] / 1e9, "macs_g"),
            ("MACs, attention as MACs (G)", c["macs_with_attention"] / 1e9, "macs_g"),
            ("ACs (G)", c["acs"] / 1e9, "acs_g"),
            ("energy 45 nm (mJ)", c["energy_pj"] / 1e9, "energy_mj"),
            ("energy, attention as MACs (mJ)", c["energy_with_attention_pj"] / 1e9, "energy_mj")]
    paper = TABLE7.get(cfg.arch) if (cfg.num_classes, cfg.input_size, cfg.timesteps) == (
        TABLE7_SETTING["classes"], TABLE7_SETTING["input"], TABLE7_SETTING["timesteps"]) else None
    print(f"  {'':34s}{'spikefold':>12s}" + (f"{'paper Table 7':>16s}" if paper else ""))
    for label, value, key in rows:
        print(f"  {label:34s}{value:12.4f}" + (f"{paper[key]:16.3f}" if paper else ""))
    print(f"  params without SA's (M)           {c['params_without_sa'] / 1e6:12.4f}")
    if args.json:
        from spikefold.atomic import write_json
        write_json(args.json, c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
