"""`make demo`: the main job end to end on the bundled digits data.

    [1/5] train the default small STAA-SNN (digitnet, T = 4, 20 epochs), then 10 epochs with its
          attention frozen to the fold's constants (the deployable STAA)     runs/demo/ckpt.pt
    [2/5] compile it to NIR (every fold now exact)                         runs/demo/ckpt.nir, ckpt.fold.json
    [3/5] run a handful of test samples on Lava's bit-accurate Loihi simulator and
          check the fast simulator gives the identical readout (fails otherwise; skipped, saying
          so, where Lava is not installed)
    [4/5] simulate the whole test split on the fast chip simulator and write the report
                                                                            runs/demo/report/
    [5/5] say where everything is
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys
import time
from pathlib import Path

from spikefold.common.cli import ArgumentParser, command, nonneg_int, positive_int
from spikefold.compile.lower_checkpoint import LowerOptions, describe, lower_checkpoint_file
from spikefold.compile.nir_io import read_nir
from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING
from spikefold.deploy.samples import test_samples
from spikefold.simulate.lava_check import lava_check
from spikefold.models.config import ModelConfig, TrainConfig
from spikefold.models.train import train
from spikefold.simulate.report_build import ReportOptions, describe as describe_report, report_checkpoint

OUT = Path("runs/demo")


@command
def main(argv=None) -> int:
    p = ArgumentParser(description="spikefold end to end on digits")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--static-epochs", type=nonneg_int, default=10,
                   help="epochs with STAA's attention frozen to the fold's constants (models/train.py)")
    p.add_argument("--finetune-epochs", type=nonneg_int, default=0,
                   help="fold-aware fine-tune epochs in compile/to_nir.py (the deployable STAA needs none)")
    p.add_argument("--lava-samples", type=positive_int, default=5)
    p.add_argument("--stream-samples", type=positive_int, default=10,
                   help="test samples streamed back to back through Lava (deploy/to_lava.py --stream)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt, nir_file = out / "ckpt.pt", out / "ckpt.nir"
    t_start = time.time()
    mcfg = ModelConfig(arch="digitnet", neuron="staa", timesteps=4)
    tcfg = TrainConfig(dataset="digits", epochs=args.epochs, static_epochs=args.static_epochs)
    print(f"[1/5] models: training {mcfg.arch} with STAA-LIF on digits, T={mcfg.timesteps}, "
          f"{tcfg.epochs} epochs, then {tcfg.static_epochs} with the attention static", flush=True)
    t0 = time.time()
    _, metrics = train(mcfg, tcfg, str(ckpt))
    static = (f", attention static (dynamic STAA: {metrics['dynamic_test_acc']:.2f}%)"
              if "dynamic_test_acc" in metrics else "")
    print(f"      test accuracy {metrics['test_acc']:.2f}% on the held-out 450 digits{static} "
          f"({time.time() - t0:.0f} s) -> {ckpt}", flush=True)

    print("[2/5] compile: folding BatchNorm, pooling and STAA attention into NIR" +
          (f", then {args.finetune_epochs} fold-aware epochs" if args.finetune_epochs else ""), flush=True)
    fold = lower_checkpoint_file(ckpt, nir_file, LowerOptions(finetune_epochs=args.finetune_epochs))
    print(describe(fold), flush=True)

    print(f"[3/5] deploy: {args.lava_samples} test samples on Lava (Loihi2SimCfg fixed_pt), checked "
          f"against the fast simulator", flush=True)
    if not LAVA:
        print(f"      skipped: {LAVA_MISSING}", flush=True)
    else:
        deployed = read_nir(nir_file)
        samples = test_samples(deployed, samples=args.lava_samples)
        r = lava_check(deployed, *samples.batch(range(len(samples))), dataset=samples.name)
        print(f"      Lava predictions {r['lava']} (labels {r['labels']}); fast simulator readout identical "
              f"on {r['simulator_identical']}/{r['samples']} samples ({r['seconds']:.1f} s)", flush=True)
        samples = test_samples(deployed, samples=args.stream_samples)
        s = lava_check(deployed, *samples.batch(range(len(samples))), dataset=samples.name, stream=True)
        print(f"      {s['samples']} samples streamed back to back through self-resetting neurons (no host "
              f"resets): accuracy {s['accuracy']:.2f}%, readout identical to the fast simulator's on "
              f"{s['simulator_identical']}/{s['samples']} and to the one-at-a-time run's on "
              f"{s['one_at_a_time_identical']}/{s['samples']} ({s['seconds']:.1f} s)", flush=True)
        if r["simulator_identical"] != r["samples"] or s["simulator_identical"] != s["samples"] \
                or s["one_at_a_time_identical"] != s["samples"]:
            print("error: the fast simulator and Lava disagree", file=sys.stderr)
            return 1

    print("[4/5] simulate: the whole test split on the fast chip simulator; operations and energy",
          flush=True)
    rep = report_checkpoint(ckpt, nir_file, out / "report", ReportOptions(),
                            command=f"python simulate/report.py {ckpt} --nir {nir_file} --out {out / 'report'}")
    print(describe_report(rep), flush=True)

    print(f"[5/5] done in {time.time() - t_start:.0f} s:")
    print(f"      checkpoint   {ckpt}")
    print(f"      NIR graph    {nir_file}  (fold report {fold['report_path']})")
    print(f"      report       {out / 'report' / 'report.md'}  (+ report.json, accuracy.png, "
          f"firing_rates.png, divergence.png, energy.png, chip_utilisation.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
