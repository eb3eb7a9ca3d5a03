"""A trained checkpoint lowered to NIR, as `compile/to_nir.py` writes it: the folds, the optional
fold-aware fine-tune, the accuracy and spike agreement they cost, and the NIR form a peer reads.

    graph, report = lower_checkpoint(model, ckpt, LowerOptions(fold="calibrated"))
    print(describe(report))             # what compile/to_nir.py prints
    respell(graph, "snntorch")          # a spikefold NIR graph in the form snnTorch reads right

Inputs are plain data: the model and checkpoint dict of models/checkpoint.py, a Graph of
compile/graph.py.  Outputs are a `nir.NIRGraph` (save it with nir_io.save_nir) and the fold
report (a JSON-able dict: every fold applied and what it measured).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from spikefold.common import validate
from spikefold.common.atomic import atomic_write_set, json_writer, sha256_file
from spikefold.common.distributed import pick_device
from spikefold.compile.calibrate import has_live_attention
from spikefold.compile.finetune import FinetuneConfig, finetune
from spikefold.compile.graph import Graph
from spikefold.compile.measure import compare, mean_agreement
from spikefold.compile.nir_io import NIR_OWN_KEYS, save_nir, to_nir
from spikefold.compile.nir_peers import PEERS
from spikefold.compile.passes import fold_neuron_gain
from spikefold.compile.pipeline import lower
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.models.config import TrainConfig
from spikefold.models.data import DATASETS, load_dataset, seeded_subset
from spikefold.version import __version__


@dataclass(frozen=True)
class LowerOptions:
    """How to lower a checkpoint (compile/to_nir.py's options, same names and defaults).
    fold: "calibrated" (attention folded with constants measured on `calib_samples` training
    inputs) or "none" (exact folds only); finetune_epochs/lr: fold-aware fine-tune; eval_samples:
    test inputs for the accuracy and spike-agreement measurement (0: none); dataset, data_root:
    default the checkpoint's; peer: the NIR form written (compile/nir_peers.py); device: where
    calibration, fine-tuning and measurement run ("auto": CUDA when present)."""
    fold: str = "calibrated"
    calib_samples: int = 256
    finetune_epochs: int = 0
    finetune_lr: float = 0.01
    eval_samples: int = 1000
    batch_size: int = 64
    dataset: str | None = None
    data_root: str | None = None
    peer: str = "portable"
    device: str = "auto"
    quiet: bool = True


def lower_checkpoint(model: torch.nn.Module, ckpt: dict, options: LowerOptions = LowerOptions(),
                     about: dict | None = None) -> tuple:
    """(nir.NIRGraph, fold report) of a checkpoint's `model` (its dict `ckpt` gives the training
    config and the static-phase record).  `about`: the report's first fields (checkpoint path,
    checkpoint_sha256, output path), also stored in the NIR metadata where named so."""
    o, about, t0 = options, dict(about or {}), time.perf_counter()
    cfg, form = model.cfg, PEERS[o.peer]
    tcfg = TrainConfig(**{k: v for k, v in ckpt.get("train_config", {}).items()
                          if k in TrainConfig.__dataclass_fields__})
    dataset = o.dataset or tcfg.dataset
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    root = o.data_root or tcfg.data_root
    needs_calib = has_live_attention(model) and o.fold == "calibrated"
    train_ds = (load_dataset(dataset, root, True, cfg.timesteps, cfg.input_size)
                if needs_calib or o.finetune_epochs > 0 else None)
    calib = [x for x, _ in DataLoader(seeded_subset(train_ds, o.calib_samples), o.batch_size)] if needs_calib else None
    device = pick_device(o.device)
    graph = lower(model, (cfg.in_channels, cfg.input_size, cfg.input_size), o.fold, calib,
                  quiet=o.quiet, device=device)
    report = {**about, "spikefold_version": __version__, "fold": o.fold,
              "arch": cfg.arch, "neuron": cfg.neuron, "timesteps": cfg.timesteps,
              "dataset": dataset, "calibration_samples": len(calib and torch.cat(calib)) if calib else 0,
              "folds": list(graph.meta.get("folds", ())), "seconds_to_lower": round(time.perf_counter() - t0, 3)}
    if "static" in ckpt:    # a deployable STAA: its attention was folded in training (models/train.py)
        frozen = ckpt["static"]
        report["attention_frozen_in_training"] = {
            "after_epoch": frozen["epoch"], "dynamic_test_accuracy": frozen["test_acc"],
            "calibration_samples": frozen["calibration_samples"], "folds": frozen["folds"]}
    graphs = {"folded": graph}
    if o.finetune_epochs > 0:
        loader = DataLoader(train_ds, o.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
        tuned, history = finetune(graph, loader, FinetuneConfig(o.finetune_epochs, o.finetune_lr),
                                  tcfg, quiet=o.quiet, device=device)
        graphs["finetuned"] = tuned
        report["finetune"] = {"epochs": o.finetune_epochs, "lr": o.finetune_lr, "loss_per_epoch": history}
    final = graphs.get("finetuned", graph)
    form.check(final)                               # refuse before the measurement, not after
    if o.eval_samples > 0:
        test_ds = seeded_subset(load_dataset(dataset, root, False, cfg.timesteps, cfg.input_size), o.eval_samples)
        report["measure"] = compare(model, graphs, DataLoader(test_ds, o.batch_size), quiet=o.quiet, device=device)
    meta = {"fold": o.fold, "checkpoint_sha256": about.get("checkpoint_sha256", ""),
            "spikefold_version": __version__, "arch": cfg.arch, "neuron": cfg.neuron,
            "num_classes": cfg.num_classes, "encoding": "frames" if DATASETS[dataset].events else "direct",
            "dataset": dataset, "finetune_epochs": o.finetune_epochs}
    report["peer"] = {"form": form.name, "reader": form.reader, "caveat": form.caveat}
    return to_nir(final, meta, form), report


def lower_checkpoint_file(src, out, options: LowerOptions = LowerOptions(),
                          max_mb: float = validate.MAX_MB) -> dict:
    """Lower the checkpoint file `src` (lower_checkpoint) and write its NIR file `out` in
    options.peer's form and the fold report beside it (out.fold.json), both or neither; returns
    the report with "report_path" and "seconds_total".  What compile/to_nir.py and the demo run."""
    src, out = Path(src), Path(out)
    report_path = out.with_suffix(".fold.json")
    validate.outputs([out, report_path], [src])
    t0 = time.perf_counter()
    model, ckpt = model_from_checkpoint(src, max_mb)
    g, report = lower_checkpoint(model, ckpt, options, about={
        "checkpoint": str(src), "checkpoint_sha256": sha256_file(src), "output": str(out)})
    report["seconds_total"] = round(time.perf_counter() - t0, 3)
    atomic_write_set({out: lambda tmp: save_nir(g, tmp, PEERS[options.peer]), report_path: json_writer(report)})
    return {**report, "report_path": str(report_path)}


def respell(graph: Graph, peer: str):
    """A spikefold NIR graph (read with nir_io.read_nir) as the nir.NIRGraph `peer` reads right."""
    form = PEERS[peer]
    graph = fold_neuron_gain(graph)
    return to_nir(graph, {k: v for k, v in graph.meta["nir"].items() if k not in NIR_OWN_KEYS}, form)


def describe(report: dict) -> str:
    """What compile/to_nir.py prints: the file written, every fold and what it measured."""
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
            layers = ", ".join(f"{name} {100 * d['agreement']:.3f}%" for name, d in per.items())
            lines.append(f"  spike agreement with the checkpoint, {k}: {layers} (mean "
                         f"{100 * mean_agreement(per):.3f}%)")
    return "\n".join(lines)


FOLD_COST_HINT = 1.0    # accuracy points lost to folding above which the summary suggests fine-tuning
