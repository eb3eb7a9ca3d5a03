"""Train a spiking network and write ckpt.pt.

    python models/train.py --dataset digits --arch digitnet --neuron staa --timesteps 4 --epochs 30 -o ckpt.pt
    torchrun --nproc_per_node 2 models/train.py ...      (DistributedDataParallel: NCCL on GPUs, gloo on CPU)

The paper's recipe where it applies: SGD, momentum 0.9, cosine annealing,
cross-entropy on the logits averaged over T (or TET's per-timestep loss with
--loss tet).  CUDA is used when present.  --resume continues a checkpoint.

STAA (with live attention) then trains --static-epochs more (default 10) with GC, SA and PE
frozen to the constants compile/to_nir.py's calibrated folds compute: the checkpoint is the
deployable network, its fold exact, and ckpt["static"] records the dynamic network's accuracy
(--static-epochs 0: the paper's dynamic STAA as it stands).
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import itertools
import math
import sys
import time
from dataclasses import asdict

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from spikefold.models.attention import GlobalContext, StepAttention
from spikefold.models.fsta import FSTA
from spikefold.models.backbones import build_model
from spikefold.models.staa_lif import STAALIF
from spikefold.models.checkpoint import CheckpointError, FORMAT, load_checkpoint, resume_configs, save_checkpoint
from spikefold.common.cli import WRITTEN, ArgumentParser, InputError, add_dataclass_args, command, fail, pick, require
from spikefold.models.config import ModelConfig, TrainConfig
from spikefold.models.data import DATASETS, DatasetNotFound, load_dataset, seeded_subset
from spikefold.models.loss import loss_fn
from spikefold.version import __version__
from spikefold.common import distributed, validate


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device) -> float:
    """Top-1 accuracy (%) of the T-averaged logits."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        pred = model(x.to(device)).mean(0).argmax(1)
        correct += (pred.cpu() == y).sum().item()
        total += len(y)
    return 100.0 * correct / max(total, 1)


FSTA_SCALAR_LR = 0.01    # FSTA's a, b, p, q learn at lr x this, without weight decay (see param_groups)


def param_groups(model: nn.Module, lr: float, attention_scale: float) -> list[dict]:
    """Optimiser parameter groups: the attention parameters (STAA's GC and SA modules and its
    position encoding) at lr * attention_scale, FSTA's four scalars (a, b, p, q) at
    lr * FSTA_SCALAR_LR without weight decay, every other parameter at lr.  Each FSTA scalar
    scales a whole layer's input, so its gradient sums over every T x C x H x W position of it
    (about 50,000 in digitnet's first layer on MNIST): at the full lr of 0.1, p and q changed sign
    within 5 steps and reached tens within 35, and FSTA trained 10 points below LIF; the authors'
    recipe (yukairong/FSTA-SNN) hides this behind 10 warm-up epochs from lr 1e-5."""
    attention, scalars = set(), set()
    for m in model.modules():
        if isinstance(m, (GlobalContext, StepAttention)):
            attention.update(id(p) for p in m.parameters())
        if isinstance(m, STAALIF) and m.pos is not None:
            attention.add(id(m.pos))
        if isinstance(m, FSTA):
            scalars.update(id(p) for p in (m.a, m.b, m.p, m.q))
    pick_ = lambda ids: [p for p in model.parameters() if id(p) in ids]
    rest = [p for p in model.parameters() if id(p) not in attention | scalars]
    return ([{"params": rest, "lr": lr}]
            + ([{"params": pick_(attention), "lr": lr * attention_scale}] if attention else [])
            + ([{"params": pick_(scalars), "lr": lr * FSTA_SCALAR_LR, "weight_decay": 0.0}] if scalars else []))


LEAK_RANGE = (0.0, 1.0 - 2.0 ** -12)   # M: the chip's dv = round(4096 (1 - M)) needs M <= 1 - 1/4096
                                       # for a nonzero leak (NIR's tau = dt/(1-M) is finite) and M >= 0


@torch.no_grad()
def constrain_leaks(model: nn.Module) -> None:
    """Keep every learnable per-channel leak M (AdaptiveLIF, STAA-LIF) inside what the chip and
    NIR can express, after each optimiser step, and FSTA's p, q >= 0: its gain
    (1 + w)(p + q (1 + s)) / 2 then never turns negative, which no threshold can fold (a LIF
    fires above its threshold, not below).  The input gains N need no bound (they fold into the
    synaptic weights)."""
    for module in model.modules():
        m = getattr(module, "m", None)
        if isinstance(m, nn.Parameter):
            m.clamp_(*LEAK_RANGE)
        if isinstance(module, FSTA):
            module.p.clamp_(min=0.0)
            module.q.clamp_(min=0.0)


def make_optimizer(model: nn.Module, tcfg: TrainConfig, static: bool):
    """(optimizer, per-epoch cosine scheduler) of the dynamic phase (lr, epochs) or the static one
    (static_lr, static_epochs)."""
    lr, epochs = (tcfg.static_lr, tcfg.static_epochs) if static else (tcfg.lr, tcfg.epochs)
    groups = param_groups(model, lr, tcfg.attention_lr)
    if tcfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=tcfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(groups, lr=lr, momentum=tcfg.momentum, weight_decay=tcfg.weight_decay)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)


def has_static_phase(mcfg: ModelConfig, tcfg: TrainConfig) -> bool:
    """A STAA network whose attention is live gets the static phase (unless static_epochs = 0)."""
    return (mcfg.neuron == "staa" and mcfg.staa_attention == "dynamic" and tcfg.static_epochs > 0
            and (mcfg.gc or mcfg.sa or mcfg.pe))


def total_epochs(mcfg: ModelConfig, tcfg: TrainConfig, frozen: dict | None = None) -> int:
    """Where training ends: the static phase runs static_epochs after the epoch the attention was
    frozen at (`frozen`, once it is), which is `epochs`, or later for a dynamic checkpoint
    resumed past it."""
    if frozen is not None:
        return frozen["epoch"] + tcfg.static_epochs
    return tcfg.epochs + (tcfg.static_epochs if has_static_phase(mcfg, tcfg) else 0)


def freeze(model: nn.Module, tcfg: TrainConfig, epoch: int, dynamic_acc: float, device) -> dict:
    """Freeze the model's STAA attention in place (compile.freeze) on `calib_samples` training
    inputs, unaugmented as compile/to_nir.py reads them; returns what the checkpoint records of
    it: the epoch, the dynamic network's last test accuracy (what the paper would report) and the
    folds' notes."""
    from spikefold.compile.freeze import freeze_attention     # compile/ imports models/: import it late
    cfg = model.cfg
    calib_set = load_dataset(tcfg.dataset, tcfg.data_root, True, cfg.timesteps, cfg.input_size)
    calib = [x for x, _ in DataLoader(seeded_subset(calib_set, tcfg.calib_samples), 256)]
    notes = freeze_attention(model, calib, device=device)
    return {"epoch": epoch, "test_acc": dynamic_acc,
            "calibration_samples": int(sum(len(x) for x in calib)), "folds": notes}


def _loaders(mcfg: ModelConfig, tcfg: TrainConfig, rank: int, world: int):
    """(shuffled train loader, test loader, the train set's DistributedSampler or None)."""
    train_set = load_dataset(tcfg.dataset, tcfg.data_root, True, mcfg.timesteps, mcfg.input_size, tcfg.augment)
    test_set = load_dataset(tcfg.dataset, tcfg.data_root, False, mcfg.timesteps, mcfg.input_size)
    sampler = DistributedSampler(train_set, world, rank, seed=tcfg.seed) if world > 1 else None
    gen = torch.Generator().manual_seed(tcfg.seed)
    train_loader = DataLoader(train_set, tcfg.batch_size, shuffle=sampler is None, sampler=sampler,
                              num_workers=tcfg.workers, generator=gen, drop_last=False)
    test_loader = DataLoader(test_set, 256, num_workers=tcfg.workers)
    return train_loader, test_loader, sampler


def _restore(ckpt: dict, path: str, mcfg: ModelConfig, tcfg: TrainConfig, model: nn.Module,
             optimizer, scheduler, device):
    """(model, optimizer, scheduler) as checkpoint `ckpt` (read from `path`) left them, for more epochs."""
    frozen = ckpt.get("static")
    require(total_epochs(mcfg, tcfg, frozen) > ckpt["epoch"],
            f"{path}: already trained for {ckpt['epoch']} epochs; --epochs {tcfg.epochs} "
            f"(+ --static-epochs {tcfg.static_epochs}) adds none (give more)")
    if frozen is not None:            # stopped in the static phase: rebuild the static network
        model = build_model(ModelConfig.from_dict(ckpt["model_config"])).to(device)
        optimizer, scheduler = make_optimizer(model, tcfg, static=True)
    model.load_state_dict(ckpt["state_dict"])
    saved, ours = len(ckpt["optimizer"].get("param_groups", ())), len(optimizer.param_groups)
    if saved != ours:        # FSTA's scalars have had their own group since issue 40
        raise CheckpointError(f"{path}: its optimiser state holds {saved} parameter groups, this spikefold's "
                              f"optimiser {ours} (a checkpoint written before FSTA's scalars got their own "
                              f"learning rate): it cannot be resumed; train it again")
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    scheduler.T_max = tcfg.static_epochs if frozen is not None else tcfg.epochs   # more epochs asked
    return model, optimizer, scheduler


def _start_static_phase(model: nn.Module, tcfg: TrainConfig, epoch: int, dynamic_acc: float,
                        test_loader: DataLoader, device, show: bool):
    """Freeze the attention at `epoch`: (its checkpoint record, the static phase's optimizer, scheduler)."""
    frozen = freeze(model, tcfg, epoch, dynamic_acc, device)
    frozen["frozen_test_acc"] = evaluate(model, test_loader, device)
    optimizer, scheduler = make_optimizer(model, tcfg, static=True)
    if show:
        print(f"attention frozen to the fold's constants (dynamic STAA: test {frozen['test_acc']:.2f}%, "
              f"frozen: {frozen['frozen_test_acc']:.2f}%); {tcfg.static_epochs} static epochs",
              flush=True)
    return frozen, optimizer, scheduler


def _train_epoch(net: nn.Module, model: nn.Module, loader: DataLoader, optimizer, tcfg: TrainConfig,
                 epoch: int, end: int, device, show: bool) -> tuple[int, float, int]:
    """One pass over `loader`: (samples seen, summed loss, correctly classified samples)."""
    net.train()
    seen = correct = 0
    loss_sum = 0.0
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{end}", disable=not show,
               leave=False, dynamic_ncols=True)
    for x, y in bar:
        x, y = x.to(device), y.to(device)
        logits_t = net(x)
        loss = loss_fn(tcfg, logits_t, y)
        if not math.isfinite(loss.item()):
            raise ValueError(f"training diverged: the loss became {loss.item()} at epoch {epoch + 1} "
                             f"(a smaller --lr, or --static-lr in the static phase)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        constrain_leaks(model)
        seen += len(y)
        loss_sum += loss.item() * len(y)
        correct += (logits_t.detach().mean(0).argmax(1) == y).sum().item()
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
    return seen, loss_sum, correct


def _checkpoint(model: nn.Module, tcfg: TrainConfig, optimizer, scheduler, metrics: dict, history: list,
                world: int, frozen: dict | None) -> dict:
    """The checkpoint after the epoch `metrics` describes."""
    return {
        "format": FORMAT, "version": __version__, "model_config": model.cfg.to_dict(),
        "train_config": asdict(tcfg), "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "epoch": metrics["epoch"], "metrics": {**metrics, "history": history},
        "world_size": world, **({"static": frozen} if frozen is not None else {}),
    }


def train(mcfg: ModelConfig, tcfg: TrainConfig, out: str, resume: str | None = None,
          quiet: bool = False) -> tuple[nn.Module, dict]:
    """Train and write the checkpoint to `out` (rank 0); returns (model, last metrics)."""
    rank, world, device = distributed.setup(tcfg.device)
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)
    train_loader, test_loader, sampler = _loaders(mcfg, tcfg, rank, world)

    model = build_model(mcfg).to(device)
    optimizer, scheduler = make_optimizer(model, tcfg, static=False)
    start, history, frozen, last_acc = 0, [], None, float("nan")
    if resume:
        ckpt = load_checkpoint(resume)
        frozen = ckpt.get("static")
        model, optimizer, scheduler = _restore(ckpt, resume, mcfg, tcfg, model, optimizer, scheduler, device)
        start, history = ckpt["epoch"], list(ckpt["metrics"].get("history", []))
        last_acc = ckpt["metrics"].get("test_acc", float("nan"))
    wrap = (lambda m: nn.parallel.DistributedDataParallel(m)) if world > 1 else (lambda m: m)
    net = wrap(model)

    show = rank == 0 and not quiet
    metrics: dict = {}
    for epoch in itertools.count(start):
        if epoch >= total_epochs(mcfg, tcfg, frozen):
            break
        if epoch >= tcfg.epochs and frozen is None and has_static_phase(mcfg, tcfg):   # the static phase
            frozen, optimizer, scheduler = _start_static_phase(
                model, tcfg, epoch, history[-1]["test_acc"] if history else last_acc, test_loader, device, show)
            net = wrap(model)
        if sampler is not None:
            sampler.set_epoch(epoch)
        t0 = time.time()
        end = total_epochs(mcfg, tcfg, frozen)
        seen, loss_sum, correct = _train_epoch(net, model, train_loader, optimizer, tcfg, epoch, end,
                                               device, show)
        scheduler.step()
        if world > 1:
            # DDP keeps parameters in step but BN running statistics are updated
            # locally after its start-of-forward broadcast: make every rank hold rank 0's.
            for buf in model.buffers():
                dist.broadcast(buf, 0)
        if rank != 0:
            continue
        test_acc = evaluate(model, test_loader, device)
        metrics = {"epoch": epoch + 1, "train_loss": loss_sum / seen,
                   "train_acc": 100.0 * correct / seen, "test_acc": test_acc,
                   "epoch_seconds": time.time() - t0, "attention": model.cfg.staa_attention,
                   **({"dynamic_test_acc": frozen["test_acc"], "dynamic_epochs": frozen["epoch"]}
                      if frozen is not None else {})}
        history.append(metrics)
        if show:
            print(f"epoch {epoch + 1:3d}/{end}  loss {metrics['train_loss']:.4f}  "
                  f"train {metrics['train_acc']:.2f}%  test {test_acc:.2f}%  "
                  f"({metrics['epoch_seconds']:.1f}s)", flush=True)
        save_checkpoint(_checkpoint(model, tcfg, optimizer, scheduler, metrics, history, world, frozen), out)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return model, metrics


def parse_args(argv=None):
    """The parsed options, and {field: value} of those argv gave (what a --resume checks)."""
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    add_dataclass_args(p, TrainConfig)
    add_dataclass_args(p, ModelConfig, defaults={"num_classes": None, "in_channels": None,
                                                 "input_size": None})
    p.add_argument("-o", "--out", default="ckpt.pt", help="checkpoint to write")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    return p.parse_args(argv), p.given(argv)


@command
def main(argv=None) -> int:
    args, given = parse_args(argv)
    if args.dataset not in DATASETS:
        fail(f"unknown dataset {args.dataset!r}; choose from {', '.join(DATASETS)}")
    info = DATASETS[args.dataset]
    try:
        tcfg = pick(TrainConfig, args)
        mcfg = pick(ModelConfig, args,
                    num_classes=args.num_classes or info.classes,
                    in_channels=args.in_channels or info.channels,
                    input_size=args.input_size or info.size)
        if args.resume:                       # the checkpoint's network, data and optimiser
            mcfg, tcfg = resume_configs(args.resume, given)
        build_model(mcfg)                     # an unknown arch or neuron fails before any data
    except CheckpointError as e:
        fail(str(e))
    except InputError as e:
        fail(f"bad option: {e}")
    except ValueError as e:
        fail(f"bad option: {str(e).splitlines()[0]}")
    # --resume X -o X continues a checkpoint in place (written atomically): allowed
    validate.outputs([args.out], [])
    try:
        _, metrics = train(mcfg, tcfg, args.out, args.resume, args.quiet)
    except (DatasetNotFound, CheckpointError, ValueError) as e:
        kept = f"; {args.out} holds the last whole epoch's checkpoint" if WRITTEN else ""
        fail(str(e).splitlines()[0] + kept)
    if metrics:
        static = (f"; static attention, what the chip runs (dynamic STAA after {metrics['dynamic_epochs']}: "
                  f"{metrics['dynamic_test_acc']:.2f}%)" if "dynamic_test_acc" in metrics else "")
        print(f"wrote {args.out}: test accuracy {metrics['test_acc']:.2f}% after "
              f"{metrics['epoch']} epochs ({mcfg.arch}, {mcfg.neuron}, T={mcfg.timesteps}){static}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
