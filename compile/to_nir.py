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

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys
from pathlib import Path

from spikefold.common import validate
from spikefold.common.atomic import atomic_write_set
from spikefold.common.cli import ArgumentParser, command, fail, nonneg_int, positive_float, positive_int
from spikefold.compile.from_torch import UnsupportedModule
from spikefold.compile.lower_checkpoint import LowerOptions, describe, lower_checkpoint_file, respell
from spikefold.compile.nir_io import NIRFormatError, read_nir, save_nir
from spikefold.compile.nir_peers import PEERS
from spikefold.compile.pipeline import FOLD_MODES, FoldRefused
from spikefold.models.checkpoint import CheckpointError
from spikefold.models.data import DatasetNotFound


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


def default_output(src: Path, peer: str) -> Path:
    return src.with_suffix(".nir" if peer == "portable" else f".{peer}.nir")


def options(args) -> LowerOptions:
    return LowerOptions(fold=args.fold, calib_samples=args.calib_samples, finetune_epochs=args.finetune_epochs,
                        finetune_lr=args.finetune_lr, eval_samples=args.eval_samples, batch_size=args.batch_size,
                        dataset=args.data, data_root=args.data_root, peer=args.peer, device=args.device,
                        quiet=args.quiet)


def write(args) -> dict:
    """Lower (or, for a NIR file, re-spell) args.checkpoint and write the NIR file and fold report."""
    src = Path(args.checkpoint)
    out = validate.output_path(args.output, "-o", default_output(src, args.peer))
    form = PEERS[args.peer]
    if src.suffix == ".nir":
        validate.outputs([out], [src])
        g = respell(read_nir(src, args.max_mb), args.peer)
        atomic_write_set({out: lambda tmp: save_nir(g, tmp, form)})
        return {"output": str(out), "input": str(src), "peer": args.peer}
    return lower_checkpoint_file(src, out, options(args), args.max_mb)


@command
def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        report = write(args)
    except (CheckpointError, NIRFormatError, DatasetNotFound, UnsupportedModule, FoldRefused, ValueError) as e:
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    print(describe(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
