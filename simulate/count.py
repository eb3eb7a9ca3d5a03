"""Parameters, operations, MACs and ACs of a spikefold network as built, as syops-counter counts
them (the paper's Table 7), with NeuroBench's effective counts and the ANN baseline beside.

    python simulate/count.py --arch res20m --neuron staa --classes 100 --input 32 --timesteps 4
    python simulate/count.py --checkpoint ckpt.pt            (firing rates measured on its test data)

The rules are simulate/counters/network.py's (one set of definitions, shared with the report):
(a) syops-counter 0.0.5 rule for rule, (b) NeuroBench 2.3.0's synaptic operations,
(d) the conv and linear layers as an ANN.  Firing rates come from a forward pass on
real test data when a checkpoint is given, else every neuron emits Bernoulli spikes at
`--rate` (a stated assumption).  Energy: MACs x 4.6 pJ + ACs x 0.9 pJ (45 nm).
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys

import torch
from torch import nn

from spikefold.models.attention import StepAttention
from spikefold.models.backbones import build_model
from spikefold.models.checkpoint import CheckpointError, model_from_checkpoint
from spikefold.models.config import ModelConfig
from spikefold.models.data import DatasetNotFound, load_dataset
from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.simulate.counters.network import bernoulli_neurons, count
from spikefold.simulate.counters.paper import TABLE7, TABLE7_SETTING
from spikefold.common import validate
from spikefold.common.atomic import write_json
from spikefold.common.cli import ArgumentParser, command, fail, positive_int, unit_float


def run_count(model: nn.Module, x: torch.Tensor, timesteps: int) -> dict:
    """Counts per inference (averaged over the batch x) under simulate.counters.network's conventions."""
    c = count(model, [x], timesteps)
    t = c.totals()
    params = sum(p.numel() for p in model.parameters())
    sa = sum(p.numel() for m in model.modules() if isinstance(m, StepAttention) for p in m.parameters())
    return {"params": params, "params_without_sa": params - sa,
            "ops": t["syops_ops"], "macs": t["syops_macs"], "acs": t["syops_acs"],
            "energy_pj": t["syops_macs"] * ENERGY_PJ["mac_45nm"] + t["syops_acs"] * ENERGY_PJ["ac_45nm"],
            "effective_macs": t["nb_macs"], "effective_acs": t["nb_acs"], "dense_synops": t["nb_dense"],
            "ann_macs": t["ann_macs"], "layers": c.rows()}


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="count this network, rates from its test data")
    p.add_argument("--arch", default="res20m")
    p.add_argument("--neuron", default="staa")
    p.add_argument("--classes", type=positive_int, default=100)
    p.add_argument("--input", type=positive_int, default=32)
    p.add_argument("--in-channels", type=positive_int, default=3)
    p.add_argument("--timesteps", type=validate.timesteps_arg, default=4)
    p.add_argument("--rate", type=unit_float, default=0.15, help="assumed firing rate without a checkpoint")
    p.add_argument("--samples", type=positive_int, default=64, help="test samples for measured rates")
    p.add_argument("--data-root", default=None)
    p.add_argument("--json", default=None, help="also write the counts here")
    return p.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.json is not None:
        validate.outputs([args.json], [args.checkpoint])
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
        c = run_count(model, x, cfg.timesteps)
    finally:
        for h in hooks:
            h.remove()
    c.update({"arch": cfg.arch, "neuron": cfg.neuron, "classes": cfg.num_classes, "input": cfg.input_size,
              "timesteps": cfg.timesteps, "rates": rates, "network": "network as built (PyTorch, before folding)"})
    print(f"{cfg.arch} {cfg.neuron}, {cfg.num_classes} classes, {cfg.input_size}x{cfg.input_size}, "
          f"T={cfg.timesteps}; firing rates {rates}; counted on the network as built")
    rows = [("params (M)", c["params"] / 1e6, "params_m"),
            ("operations, syops (G)", c["ops"] / 1e9, "flops_g"),
            ("MACs, syops (G)", c["macs"] / 1e9, "macs_g"),
            ("ACs, syops (G)", c["acs"] / 1e9, "acs_g"),
            ("energy 45 nm, syops (mJ)", c["energy_pj"] / 1e9, "energy_mj")]
    paper = TABLE7.get(cfg.arch) if (cfg.neuron, cfg.num_classes, cfg.input_size, cfg.timesteps) == (
        TABLE7_SETTING["neuron"], TABLE7_SETTING["classes"], TABLE7_SETTING["input"],
        TABLE7_SETTING["timesteps"]) else None
    print(f"  {'':34s}{'spikefold':>12s}" + (f"{'paper Table 7':>16s}" if paper else ""))
    for label, value, key in rows:
        print(f"  {label:34s}{value:12.4f}" + (f"{paper[key]:16.3f}" if paper else ""))
    print(f"  {'params without SA (M)':34s}{c['params_without_sa'] / 1e6:12.4f}")
    print(f"  {'effective MACs, NeuroBench (G)':34s}{c['effective_macs'] / 1e9:12.4f}")
    print(f"  {'effective ACs, NeuroBench (G)':34s}{c['effective_acs'] / 1e9:12.4f}")
    print(f"  {'ANN MACs, conv + linear (G)':34s}{c['ann_macs'] / 1e9:12.4f}")
    if args.json is not None:
        write_json(args.json, c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
