"""spikefold's counting conventions beside syops-counter 0.0.5 and NeuroBench 2.3.0 run themselves,
on one checkpoint and its test split (measured spikes), per inference.

    python bench/counters_vs_peers.py runs/demo/ckpt.pt [--samples 450]

Prints (a) spikefold syops-convention totals vs syops-counter's own hooks (summed module by
module, see simulate/counters/network.py), (b) spikefold effective vs NeuroBench's
SynapticOperations / ActivationSparsity / Footprint, and the largest per-layer difference.
"""
from __future__ import annotations

import sys

import torch
from torch.utils.data import DataLoader, TensorDataset

from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.data import load_dataset
from spikefold.simulate.counters.network import count, footprint_bytes
from spikefold.simulate.counters.peers import neurobench_metrics, syops_per_module
from spikefold.common.cli import ArgumentParser, command, positive_int


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--samples", type=positive_int, default=450)
    args = p.parse_args(argv)
    model, ckpt = model_from_checkpoint(args.checkpoint)
    cfg = model.cfg
    ds = load_dataset(ckpt["train_config"].get("dataset", "digits"), None, False, cfg.timesteps, cfg.input_size)
    n = min(args.samples, len(ds))
    x = torch.stack([ds[i][0] for i in range(n)])
    y = torch.tensor([int(ds[i][1]) for i in range(n)])
    theirs = syops_per_module(model, x)
    ours = {r["layer"]: r for r in count(model, [x], cfg.timesteps).rows()}
    worst = max(abs(ours[k]["syops_macs"] - v[2]) + abs(ours[k]["syops_acs"] - v[1]) for k, v in theirs.items())
    s_ops, s_acs, s_macs = (sum(v[i] for v in theirs.values()) for i in range(3))
    o = count(model, [x], cfg.timesteps).totals()
    print(f"{args.checkpoint}: {cfg.arch} {cfg.neuron}, T={cfg.timesteps}, {n} test samples, per inference")
    print(f"  (a) {'':28s}{'spikefold':>14s}{'syops-counter':>16s}")
    for label, mine, ref in (("operations", o["syops_ops"], s_ops), ("MACs", o["syops_macs"], s_macs),
                             ("ACs", o["syops_acs"], s_acs)):
        print(f"      {label:28s}{mine:14,.1f}{ref:16,.1f}")
    print(f"      layers {len(theirs)}, largest per-layer |MAC| + |AC| difference {worst:.3g}")
    r = neurobench_metrics(model, DataLoader(TensorDataset(x, y), 128))
    syn = r["SynapticOperations"]
    print(f"  (b) {'':28s}{'spikefold':>14s}{'NeuroBench':>16s}")
    for label, mine, ref in (("effective MACs", o["nb_macs"], syn["Effective_MACs"]),
                             ("effective ACs", o["nb_acs"], syn["Effective_ACs"]),
                             ("dense synaptic ops", o["nb_dense"], syn["Dense"]),
                             ("activation sparsity", o["activation_sparsity"], r["ActivationSparsity"]),
                             ("footprint (bytes)", footprint_bytes(model), r["Footprint"])):
        print(f"      {label:28s}{mine:14,.4f}{ref:16,.4f}")
    print(f"      connection sparsity (NeuroBench) {r['ConnectionSparsity']:.4f}")
    print(f"  (d) ANN MACs (conv + linear, once): {o['ann_macs']:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
