"""Run a NIR network on the fast chip simulator over a test split.

    python simulate/run.py model.nir [--samples N] [--data digits] [--data-root DIR]
    python simulate/run.py network.net --inputs frames.npz --reset-interval 16   # a lava-dl netx file
    python simulate/run.py g.nir --dt 1e-3 --inputs x.npz                # any NIR graph, your inputs
    torchrun --nproc_per_node 4 simulate/run.py model.nir               # over 4 processes (or GPUs)

Prints the chip's accuracy next to the float graph's (the same NIR file run in
PyTorch), how often their predictions agree, and the operation counts per sample.
Samples are read and simulated --batch-size at a time (memory grows with the
batch, not the split); under torchrun the batches are shared out over the
processes and the figures are those of one process over all of them.
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys

import torch
from tqdm import tqdm

from spikefold.chip.program import Program
from spikefold.compile.executor import GraphNet
from spikefold.compile.graph import Graph
from spikefold.compile.nir_io import NIRFormatError
from spikefold.deploy.cli_common import add_nir_args, load_graph_and_inputs, netx_inputs, read_netx_args
from spikefold.deploy.quantize import quantize_named
from spikefold.deploy.samples import Samples
from spikefold.models.data import DatasetNotFound
from spikefold.simulate.engine import Simulator
from spikefold.common import distributed, validate
from spikefold.common.cli import ArgumentParser, command, fail, positive_int

COUNTS = ("spikes", "synaptic_events", "neuron_updates", "host_macs", "u_wraps", "v_saturations", "conv_wraps",
          "host_saturations")


def simulate(graph: Graph, program: Program, samples: Samples, batch_size: int = 256,
             device: str | torch.device = "cpu", quiet: bool = True, rank: int = 0, world: int = 1,
             max_work_mb: float = validate.MAX_WORK_MB) -> dict | None:
    """The chip's and the float graph's predictions on `samples`, and the chip's counts:
    {'name', 'n', 'chip' (n,), 'float' (n,), 'y' (n,) or None, 'counts' (COUNTS: sums over
    samples), 'clips', 'processes'}.  The chip runs in mode "window" (identical readout, counts
    per inference).  Under torchrun (rank, world) each process takes its share of the batches;
    None on ranks other than 0.  InputError, before any batch is read, for no samples or a single
    sample that would hold more than `max_work_mb` MiB (batches are cut to fit it)."""
    device = torch.device(device)
    sim, net = Simulator(program, device), GraphNet(graph).eval().to(device)
    samples.require_some()
    batch_size = sim.fit_batch(min(batch_size, len(samples)), max_work_mb)
    per_batch, counts = {}, dict.fromkeys(COUNTS, 0)
    mine = distributed.batches(len(samples), batch_size, rank, world)
    for k, idx in tqdm(mine, desc="simulate", disable=quiet or rank != 0, leave=False):
        x, y = samples.batch(idx)
        r = sim.run(x, mode="window")
        with torch.no_grad():
            fl = net(x.to(device)).mean(0).argmax(1).cpu()
        per_batch[k] = (r.logits.mean(0).argmax(1), fl, y)
        for c in COUNTS:
            counts[c] += r.counts["total"][c]
    states = distributed.gather((per_batch, counts), world)
    if states is None:
        return None
    for batches, more in states[1:]:
        per_batch.update(batches)
        for c in COUNTS:
            counts[c] += more[c]
    order = [per_batch[k] for k in sorted(per_batch)]
    cat = lambda i: torch.cat([b[i] for b in order]) if order else torch.zeros(0, dtype=torch.int64)
    return {"name": samples.name, "n": len(samples), "chip": cat(0), "float": cat(1),
            "y": cat(2) if samples.labelled else None, "counts": counts, "clips": program.report["clips"],
            "processes": world}


def simulate_program(program: Program, x: torch.Tensor, y: torch.Tensor | None, batch_size: int = 256,
                     device: str | torch.device = "cpu", quiet: bool = True,
                     max_work_mb: float = validate.MAX_WORK_MB) -> dict:
    """A program with no float graph beside it (a lava-dl netx file's, deploy/netx_read.py) on
    inputs x (B, *program.input_shape): the chip's predictions (argmax of the readout summed over
    every step) and counts, in the same dict as simulate() less 'float'.  Mode "full": a netx
    program's layers run from step 0 (no bias start), as lava-dl runs them."""
    sim = Simulator(program, torch.device(device))
    batch_size = sim.fit_batch(min(batch_size, len(x)), max_work_mb)
    chip, counts = [], dict.fromkeys(COUNTS, 0)
    for start in tqdm(range(0, len(x), batch_size), desc="simulate", disable=quiet, leave=False):
        r = sim.run(x[start:start + batch_size])
        chip.append(r.readout.sum(0).argmax(1))
        for c in COUNTS:
            counts[c] += r.counts["total"][c]
    return {"name": "inputs", "n": len(x), "chip": torch.cat(chip), "float": None, "y": y, "counts": counts,
            "clips": program.report.get("clips", 0), "processes": 1}


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    add_nir_args(p, 0, "test samples (0: the whole split)")
    p.add_argument("--batch-size", type=positive_int, default=256,
                   help="samples simulated at once, at most (cut to fit --max-work-mb)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where the simulator and the float graph run (auto: CUDA when present)")
    args = p.parse_args(argv)
    try:
        rank, world, device = distributed.setup(args.device)
        if (program := read_netx_args(args)) is not None:
            x, y = netx_inputs(args, program)
            r = simulate_program(program, x, y, args.batch_size, device, False, args.max_work_mb) \
                if rank == 0 else None
        else:
            graph, samples, _ = load_graph_and_inputs(args, lazy=True)
            r = simulate(graph, quantize_named(graph, args.nir_file), samples, args.batch_size, device, False,
                         rank, world, args.max_work_mb)
    except (NIRFormatError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    finally:
        distributed.finish()
    if r is None:                                    # a rank other than 0 under torchrun
        return 0
    chip, fl, y, c, n = r["chip"], r["float"], r["y"], r["counts"], max(r["n"], 1)
    same = ("no float graph (the file is the integer program)" if fl is None else
            f"same prediction {100 * float((chip == fl).float().mean()):.2f}%")
    where = f" ({r['processes']} processes)" if r["processes"] > 1 else ""
    if y is None:
        print(f"{r['name']}, {r['n']} samples{where} (no labels): {same}; predictions {chip.tolist()[:20]}"
              f"{' ...' if r['n'] > 20 else ''}")
    else:
        fl_acc = "" if fl is None else f"float graph {100 * float((fl == y).float().mean()):.2f}%, "
        print(f"{r['name']}, {r['n']} samples{where}: chip simulator {100 * float((chip == y).float().mean()):.2f}%, "
              f"{fl_acc}{same}")
    print(f"per sample: {c['spikes'] / n:,.0f} spikes, {c['synaptic_events'] / n:,.0f} synaptic events, "
          f"{c['neuron_updates'] / n:,.0f} neuron updates, {c['host_macs'] / n:,.0f} host MACs; "
          f"u wraps {c['u_wraps']}, v saturations {c['v_saturations']}, conv wraps {c['conv_wraps']}, "
          f"input currents saturated {c['host_saturations']}, "
          f"clipped values {r['clips']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
