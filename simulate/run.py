"""Run a NIR network on the fast chip simulator over a test split.

    python simulate/run.py model.nir [--samples N] [--data digits] [--data-root DIR]
    python simulate/run.py g.nir --dt 1e-3 --inputs x.npz                # any NIR graph, your inputs

Prints the chip's accuracy next to the float graph's (the same NIR file run in
PyTorch), how often their predictions agree, and the operation counts per sample.
"""
from __future__ import annotations

import sys

import torch

from compile.executor import GraphNet
from compile.nir_io import NIRFormatError
from deploy.cli_common import add_nir_args, load_graph_and_inputs, quantize_file
from models.data import DatasetNotFound
from simulate.engine import Simulator
from spikefold.cli import ArgumentParser, command, fail


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    add_nir_args(p, 0, "test samples (0: the whole split)")
    args = p.parse_args(argv)
    try:
        graph, x, y, name = load_graph_and_inputs(args)
        program = quantize_file(graph, args.nir_file)
        r = Simulator(program).run(x, mode="window")
    except (NIRFormatError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    with torch.no_grad():
        fl = GraphNet(graph)(x).mean(0).argmax(1)
    chip = r.logits.mean(0).argmax(1)
    c, n = r.counts["total"], len(x)
    same = f"same prediction {100 * float((chip == fl).float().mean()):.2f}%"
    if y is None:
        print(f"{name}, {n} samples (no labels): {same}; predictions {chip.tolist()[:20]}"
              f"{' ...' if n > 20 else ''}")
    else:
        print(f"{name}, {n} samples: chip simulator {100 * float((chip == y).float().mean()):.2f}%, "
              f"float graph {100 * float((fl == y).float().mean()):.2f}%, {same}")
    print(f"per sample: {c['spikes'] / n:,.0f} spikes, {c['synaptic_events'] / n:,.0f} synaptic events, "
          f"{c['neuron_updates'] / n:,.0f} neuron updates, {c['host_macs'] / n:,.0f} host MACs; "
          f"u wraps {c['u_wraps']}, v saturations {c['v_saturations']}, conv wraps {c['conv_wraps']}, "
          f"clipped values {program.report['clips']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
