"""Lower a spikefold checkpoint to a NIR graph, folding attention, BatchNorm and pooling.

    python compile/to_nir.py ckpt.pt [-o model.nir] [--fold calibrated|none]
                             [--calib-samples N] [--finetune-epochs N] [--eval-samples N]
                             [--for portable|norse|snntorch|spikingjelly|sinabs|rockpool]
    python compile/to_nir.py model.nir --for PEER [-o model.PEER.nir]

Writes model.nir (beside the checkpoint unless -o; model.PEER.nir with --for PEER) and
model.fold.json, the fold report: every fold applied and what it measured, accuracy of the
unfolded checkpoint vs the folded graph (and the fine-tuned one) on the test split, and
per-layer spike agreement.  --for writes the NIR form that peer's importer reads right
(compile/nir_peers.py), or refuses in one line what the peer cannot represent; a spikefold
NIR file as input is re-spelt for the peer without lowering again.  Bad input: a one-line
error, exit status 2, no file.
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from spikefold.compile.calibrate import has_live_attention
from spikefold.compile.finetune import FinetuneConfig, finetune
from spikefold.compile.from_torch import UnsupportedModule
from spikefold.compile.measure import compare, mean_agreement
from spikefold.compile.nir_io import NIR_OWN_KEYS, NIRFormatError, read_nir, save_nir, to_nir
from spikefold.compile.nir_peers import PEERS
from spikefold.compile.passes import fold_neuron_gain
from spikefold.compile.pipeline import FOLD_MODES, FoldRefused, lower
from spikefold.common import validate
from spikefold.common.distributed import pick_device
from spikefold.common.atomic import atomic_write_set, json_writer
from spikefold.models.checkpoint import CheckpointError, model_from_checkpoint
from spikefold.common.cli import ArgumentParser, command, fail, nonneg_int, positive_float, positive_int
from spikefold.models.data import DATASETS, DatasetNotFound, load_dataset
from spikefold.models.train import TrainConfig, seeded_subset
from spikefold.version import __version__


def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("-o", "--output", default=None, help="NIR file (default: beside the checkpoint)")
    p.add_argument("--fold", choices=FOLD_MODES, default="calibrated",
                   help="calibrated: fold attention with constants measured on training inputs; "
                        "none: exact folds only")
    p.add_argument("--calib-samples", type=positive_int, default=256, help="training inputs for calibration")
    p.add_argument("--finetune-epochs", type=nonneg_int, default=0, help="fold-aware fine-tune epochs")
    p.add_argument("--finetune-lr", type=positive_float, default=0.01)
    p.add_argument("--eval-samples", type=nonneg_int, default=1000,
                   help="test inputs for the accuracy/agreement measurement (0: skip it)")
    p.add_argument("--data", default=None, help="dataset (default: the checkpoint's)")
    p.add_argument("--data-root", default=None, help="directory holding the dataset's files")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a checkpoint declaring more MiB of tensors")
    p.add_argument("--for", dest="peer", choices=list(PEERS), default="portable",
                   help="write the NIR form this peer's importer reads right (default: portable, read right "
                        "by spikefold, Norse at dt=1e-4, and by SpikingJelly and snnTorch where each layer "
                        "has one leak)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where calibration, fine-tuning and the measurement run (auto: CUDA when present; "
                        "on a GPU their float results agree with the CPU's to float32 precision)")
    return p.parse_args(argv)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_output(src: Path, peer: str) -> Path:
    return src.with_suffix(".nir" if peer == "portable" else f".{peer}.nir")


def respell(args) -> dict:
    """A spikefold NIR file written again in the form `args.peer` reads right."""
    src = Path(args.checkpoint)
    out = Path(args.output) if args.output else default_output(src, args.peer)
    validate.outputs([out], [src])
    graph = fold_neuron_gain(read_nir(src, args.max_mb))
    form = PEERS[args.peer]
    meta = {k: v for k, v in graph.meta["nir"].items() if k not in NIR_OWN_KEYS}
    g = to_nir(graph, meta, form)
    atomic_write_set({out: lambda tmp: save_nir(g, tmp, form)})
    return {"output": str(out), "input": str(src), "peer": args.peer}


def run(args) -> dict:
    if Path(args.checkpoint).suffix == ".nir":
        return respell(args)
    ckpt_path = Path(args.checkpoint)
    form = PEERS[args.peer]
    out = Path(args.output) if args.output else default_output(ckpt_path, args.peer)
    report_path = out.with_suffix(".fold.json")
    validate.outputs([out, report_path], [ckpt_path])
    t0 = time.perf_counter()
    model, ckpt = model_from_checkpoint(ckpt_path, args.max_mb)
    cfg = model.cfg
    tcfg = TrainConfig(**{k: v for k, v in ckpt.get("train_config", {}).items()
                          if k in TrainConfig.__dataclass_fields__})
    dataset = args.data or tcfg.dataset
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    root = args.data_root or tcfg.data_root
    needs_calib = has_live_attention(model) and args.fold == "calibrated"
    train_ds = (load_dataset(dataset, root, True, cfg.timesteps, cfg.input_size)
                if needs_calib or args.finetune_epochs > 0 else None)
    calib = None
    if needs_calib:
        calib = [x for x, _ in DataLoader(seeded_subset(train_ds, args.calib_samples), args.batch_size)]
    device = pick_device(args.device)
    graph = lower(model, (cfg.in_channels, cfg.input_size, cfg.input_size), args.fold, calib,
                  quiet=args.quiet, device=device)
    t_lower = time.perf_counter() - t0
    report = {"checkpoint": str(ckpt_path), "checkpoint_sha256": sha256(ckpt_path),
              "output": str(out), "spikefold_version": __version__, "fold": args.fold,
              "arch": cfg.arch, "neuron": cfg.neuron, "timesteps": cfg.timesteps,
              "dataset": dataset, "calibration_samples": len(calib and torch.cat(calib)) if calib else 0,
              "folds": list(graph.meta.get("folds", ())), "seconds_to_lower": round(t_lower, 3)}
    if "static" in ckpt:    # a deployable STAA: its attention was folded in training (models/train.py)
        frozen = ckpt["static"]
        report["attention_frozen_in_training"] = {
            "after_epoch": frozen["epoch"], "dynamic_test_accuracy": frozen["test_acc"],
            "calibration_samples": frozen["calibration_samples"], "folds": frozen["folds"]}
    graphs = {"folded": graph}
    if args.finetune_epochs > 0:
        loader = DataLoader(train_ds, args.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(0))
        tuned, history = finetune(graph, loader, FinetuneConfig(args.finetune_epochs, args.finetune_lr),
                                  tcfg, quiet=args.quiet, device=device)
        graphs["finetuned"] = tuned
        report["finetune"] = {"epochs": args.finetune_epochs, "lr": args.finetune_lr,
                              "loss_per_epoch": history}
    form.check(graphs.get("finetuned", graph))     # refuse before the measurement, not after
    if args.eval_samples > 0:
        test_ds = seeded_subset(load_dataset(dataset, root, False, cfg.timesteps, cfg.input_size),
                          args.eval_samples)
        report["measure"] = compare(model, graphs, DataLoader(test_ds, args.batch_size),
                                    quiet=args.quiet, device=device)
    final = graphs.get("finetuned", graph)
    meta = {"fold": args.fold, "checkpoint_sha256": report["checkpoint_sha256"],
            "spikefold_version": __version__, "arch": cfg.arch, "neuron": cfg.neuron,
            "num_classes": cfg.num_classes, "encoding": "frames" if DATASETS[dataset].events else "direct",
            "dataset": dataset, "finetune_epochs": args.finetune_epochs}
    nir_graph = to_nir(final, meta, form)
    report["peer"] = {"form": form.name, "reader": form.reader, "caveat": form.caveat}
    report["seconds_total"] = round(time.perf_counter() - t0, 3)
    atomic_write_set({out: lambda tmp: save_nir(nir_graph, tmp, form), report_path: json_writer(report)})
    report["report_path"] = str(report_path)
    return report


def summary(report: dict) -> str:
    if "input" in report:
        form = PEERS[report["peer"]]
        return "\n".join([f"wrote {report['output']} ({form.name} form of {report['input']}, read by "
                          f"{form.reader})"] + ([f"  note: {form.caveat}"] if form.caveat else []))
    lines = [f"wrote {report['output']} and {report['report_path']} "
             f"({report['arch']}, {report['neuron']}, T={report['timesteps']}, fold={report['fold']}, "
             f"{report['seconds_total']:.1f} s)"]
    for note in report["folds"]:
        extra = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in note.items() if k not in ("pass", "node"))
        lines.append(f"  {note['pass']:<24} {note['node']:<22} {extra}")
    frozen = report.get("attention_frozen_in_training")
    if frozen:
        lines.append(f"  STAA attention frozen in training after epoch {frozen['after_epoch']} (dynamic STAA "
                     f"{frozen['dynamic_test_accuracy']:.2f}%): every fold here is exact")
    if report["peer"]["caveat"]:
        lines.append(f"  note for {report['peer']['form']}: {report['peer']['caveat']}")
    m = report.get("measure")
    if m:
        acc = ", ".join(f"{k} {v:.2f}%" for k, v in m["accuracy"].items())
        lines.append(f"  accuracy on {m['samples']} test samples: {acc}")
        cost = m["accuracy"].get("model", 0.0) - m["accuracy"].get("folded", 0.0)
        if cost > FOLD_COST_HINT and "finetuned" not in m["accuracy"]:
            lines.append(f"  note: folding cost {cost:.2f} points; --finetune-epochs N trains the folded "
                         f"network's weights with the folds in place (fold-aware fine-tune)" +
                         ("; for STAA, models/train.py's static phase (--static-epochs, on by default) "
                          "trains the network the fold makes, and its fold is exact"
                          if report.get("neuron") == "staa" else ""))
        for k, per in m["spike_agreement"].items():
            lines.append(f"  spike agreement with the checkpoint, {k}: mean over layers "
                         f"{100 * mean_agreement(per):.3f}%")
    return "\n".join(lines)


FOLD_COST_HINT = 1.0    # accuracy points lost to folding above which the summary suggests fine-tuning


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except (CheckpointError, NIRFormatError, DatasetNotFound, UnsupportedModule, FoldRefused, ValueError) as e:
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
