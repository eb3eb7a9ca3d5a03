"""The report users come for: what a trained network does on the chip, next to the GPU.

    python simulate/report.py ckpt.pt [--nir model.nir] [--data digits] [--out DIR]

Writes DIR/report.json, DIR/report.md and PNG plots: accuracy of the float network
(on CUDA when present, else CPU, and the report says which), of the folded float
graph, and of the bit-accurate chip simulation, with their prediction agreement;
firing rates per layer; operations and energy per inference under four conventions,
each counted on the network it names: (a) syops-counter's (the paper's Table 7) and
(b) NeuroBench's effective synaptic operations on the network as built, (c) the chip's
events x Loihi constants on the deployed program, as deployed and streamed, (d) the
network's conv and linear layers as an ANN (simulate/counters/network.py, chip/counts.py,
simulate/counters/energy.py).
Without --nir the checkpoint is folded here (calibrated, no fine-tune).
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from spikefold.chip.hardware import profiles_with_overrides
from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.common import distributed, validate
from spikefold.common.cli import ArgumentParser, command, fail, nonneg_int, positive_float, positive_int
from spikefold.compile.nir_io import DT_HELP, NIRFormatError, read_nir
from spikefold.compile.pipeline import lower
from spikefold.deploy.cli_common import load_graph_and_inputs, quantize_file
from spikefold.deploy.samples import Samples
from spikefold.models.checkpoint import CheckpointError, model_from_checkpoint
from spikefold.models.data import DATASETS, DatasetNotFound, load_dataset
from spikefold.simulate.evaluate import evaluate
from spikefold.simulate.report_build import (GRAPH_OUTPUTS, OUTPUTS, checkpoint_report, graph_report,
                                             write_report)


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", nargs="?", default=None,
                   help="trained checkpoint (leave out for a NIR graph alone, --nir: then the float "
                        "reference is the graph itself, run in spikefold's executor)")
    p.add_argument("--nir", default=None, help="folded graph from compile/to_nir.py (default: fold here), "
                                               "or any NIR graph")
    p.add_argument("--dt", type=positive_float, default=None, help=DT_HELP)
    p.add_argument("--inputs", default=None, help="your own inputs (.npy x or .npz x, y), as simulate/run.py")
    p.add_argument("--timesteps", type=positive_int, default=None, help="steps per sample for static --inputs")
    p.add_argument("--data", default=None, help="dataset (default: the checkpoint's)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--samples", type=nonneg_int, default=0, help="test samples (0: the whole split)")
    p.add_argument("--calib-samples", type=positive_int, default=256)
    p.add_argument("--batch-size", type=positive_int, default=128,
                   help="samples per batch: memory grows with it, not with the test split")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where the float network and the chip simulator run (auto: CUDA when present); "
                        "under torchrun each process uses GPU LOCAL_RANK")
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a checkpoint or NIR file declaring more MiB of arrays")
    p.add_argument("--chip-param", action="append", default=[], metavar="[PROFILE.]NAME=VALUE",
                   help="replace a chip figure (chip/hardware.py) in every profile or in one, "
                        "e.g. loihi2.synop_pj=10; the report marks it as yours")
    p.add_argument("--sram-pj", type=positive_float, default=ENERGY_PJ["sram_8kb_45nm"],
                   help="pJ per SRAM access in the memory-aware 45 nm conventions (Horowitz 2014: "
                        "10 for 8 KB, 20 for 32 KB, 100 for 1 MB)")
    p.add_argument("--out", default=None, help="output directory (default: beside the checkpoint)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.checkpoint is None and args.nir is None:
        p.error("give a checkpoint, a NIR graph (--nir), or both")
    if args.checkpoint is not None and (args.inputs or args.dt):
        p.error("--inputs and --dt are for a NIR graph alone (leave out the checkpoint)")
    return args


def run(args, argv) -> dict | None:
    """The report for a checkpoint (and its folded graph, --nir, or folded here): inputs loaded,
    one evaluation, the report built and written.  None on a rank other than 0 under torchrun."""
    t0 = time.perf_counter()
    out = Path(args.out) if args.out else Path(args.checkpoint).parent / "report"
    validate.outputs([out], [args.checkpoint, args.nir], directory=True)
    validate.outputs([out / f for f in OUTPUTS], [args.checkpoint, args.nir])
    rank, world, device = distributed.setup(args.device)
    quiet = args.quiet or rank != 0
    profiles = profiles_with_overrides(args.chip_param)
    model, ckpt = model_from_checkpoint(args.checkpoint, args.max_mb)
    cfg, tc = model.cfg, ckpt.get("train_config", {})
    dataset = args.data or tc.get("dataset", "digits")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    root = args.data_root or tc.get("data_root")
    test = load_dataset(dataset, root, False, cfg.timesteps, cfg.input_size)
    n = len(test) if args.samples <= 0 else min(args.samples, len(test))
    steps = tqdm(total=4, desc="report", disable=quiet)
    graph, folded_label = folded_graph(args, model, dataset, root)
    program = quantize_file(graph, args.nir or args.checkpoint)
    steps.update()
    ev = evaluate(graph, program, Samples(dataset=test, n=n, name=dataset), model, args.batch_size, device,
                  quiet, rank, world)
    steps.update()
    if ev is None:
        return None                                  # not rank 0: rank 0 writes the report
    report, models = checkpoint_report(
        ev, model, ckpt, program, profiles, args.sram_pj,
        command="python simulate/report.py " + " ".join(shlex.quote(a) for a in argv),
        checkpoint=args.checkpoint, folded_graph=folded_label, dataset=dataset,
        batch_size=args.batch_size, float_device=device.type)
    steps.update()
    report["seconds"] = round(time.perf_counter() - t0, 2)
    write_report(out, report, models)
    steps.update()
    steps.close()
    return {**report, "out": str(out)}


def folded_graph(args, model, dataset: str, root: str | None) -> tuple:
    """(graph, label): the folded graph from --nir, or the checkpoint folded here (calibrated on
    --calib-samples training inputs, not fine-tuned)."""
    if args.nir:
        graph = read_nir(args.nir, args.max_mb)
        info = graph.meta.get("nir", {})
        tuned = int(info.get("finetune_epochs", 0) or 0)
        return graph, (f"folded ({info.get('fold', 'calibrated')})" +
                       (f" + fine-tuned ({tuned} epochs)" if tuned else "") + f", from {args.nir}")
    cfg = model.cfg
    train = load_dataset(dataset, root, True, cfg.timesteps, cfg.input_size)
    calib = [x for x, _ in DataLoader(Subset(train, range(min(args.calib_samples, len(train)))), 128)]
    graph = lower(model, (cfg.in_channels, cfg.input_size, cfg.input_size), "calibrated", calib)
    return graph, "folded (calibrated) here, not fine-tuned"


def run_graph(args, argv) -> dict | None:
    """The report for a NIR graph alone (no checkpoint): the graph in spikefold's float executor
    against the chip, the chip's counts, placement, time and energy, and the graph's own conv and
    linear layers as the ANN baseline."""
    t0 = time.perf_counter()
    out = Path(args.out) if args.out else Path(args.nir).parent / "report"
    validate.outputs([out], [args.nir, args.inputs], directory=True)
    validate.outputs([out / f for f in GRAPH_OUTPUTS], [args.nir, args.inputs])
    profiles = profiles_with_overrides(args.chip_param)
    args.nir_file = args.nir
    graph, samples, inputs = load_graph_and_inputs(args, lazy=True)
    program = quantize_file(graph, args.nir)
    rank, world, device = distributed.setup(args.device)
    ev = evaluate(graph, program, samples, None, args.batch_size, device, args.quiet or rank != 0, rank, world)
    if ev is None:
        return None                                  # not rank 0: rank 0 writes the report
    report, models = graph_report(ev, graph, program, profiles, args.sram_pj,
                                  command="python simulate/report.py " + " ".join(shlex.quote(a) for a in argv),
                                  nir=args.nir, inputs=inputs)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    write_report(out, report, models)
    return {**report, "out": str(out)}


@command
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        r = run(args, argv) if args.checkpoint else run_graph(args, argv)
    except (CheckpointError, NIRFormatError, DatasetNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])
    finally:
        distributed.finish()
    if r is None:                                    # a rank other than 0 under torchrun
        return 0
    a, e = r["accuracy"], r["energy"]
    if args.checkpoint is None:
        print(f"wrote {r['out']}/report.md, report.json and 3 plots ({r['samples']} samples of {r['inputs']}, "
              f"{r['seconds']} s)")
        print(f"  float graph vs chip: same prediction {r['agreement']['float graph vs chip']:.2f}%" +
              ("" if a is None else f"; accuracy float {a['float graph']:.2f}%, chip {a['chip']:.2f}%"))
        print("  energy per inference: " + ", ".join(f"{v['label']} {v['pj'] / 1e6:.4g} µJ" for v in e.values()))
        return 0
    print(f"wrote {r['out']}/report.md, report.json and 4 plots ({r['samples']} {r['dataset']} test samples, "
          f"{r['seconds']} s)")
    print(f"  accuracy: float ({r['float_device']}) {a['float']:.2f}%, folded {a['folded']:.2f}%, "
          f"chip {a['chip']:.2f}%")
    print("  energy per inference: " + ", ".join(f"{v['label']} {v['pj'] / 1e6:.4g} µJ" for v in e.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
