"""The fast chip simulator's time and memory against the float forward of the same network.

    python bench/sim_speed.py [--nets digitnet,res20m,vgg13,resnet18] [--neurons lif,staa]
                              [--batch 16] [--repeats 3] [--threads 0] [--out bench/results/sim_speed]

For each network (paper-sized, random weights: what is measured is time, not
accuracy) and neuron type: the model is folded (STAA calibrated on the batch
itself) and quantised, then one batch of random inputs runs through

    float   the PyTorch network as built, `model(x)` under no_grad, and
    chip    `Simulator(program).run(x, mode="window")`, what simulate/report.py
            and simulate/run.py use for the chip's accuracy and counts,

alternating, best of --repeats each, in this one process (the machine is noisy:
only ratios measured in one run mean anything).  Peak memory is measured apart,
in a fresh process per network and phase: the largest resident set above the
one before the phase, sampled every millisecond from /proc/self/statm, with
glibc told to map every block above 64 KiB on its own and to give freed memory
back (mallopt, malloc_trim), so the resident set follows the tensors alive (that
setting slows allocation, hence not in the timed process).  Prints sim/float, samples/s of each, the firing rate the
random weights give, peak memory; writes OUT.md and OUT.json.

Inputs are static frames (B, C, H, W), repeated over T as the network's direct
encoding does: uniform in [0, 1] for digitnet (as its digits data), standard
normal for the others (normalised images).
"""
from __future__ import annotations

from argparse import SUPPRESS
import ctypes
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from spikefold.compile.pipeline import lower
from spikefold.deploy.quantize import quantize
from spikefold.models.backbones import build_model
from spikefold.models.config import ModelConfig
from spikefold.simulate.engine import Simulator
from spikefold.common.cli import ArgumentParser, command, nonneg_int, positive_int

NETS = {  # arch -> (input size, channels, classes, T, default batch)
    "digitnet": (8, 1, 10, 4, 450),     # the digits test split in one batch
    "res20m": (32, 3, 10, 4, 16),
    "vgg13": (32, 3, 10, 4, 16),
    "resnet18": (224, 3, 1000, 4, 16),
}
PAGE = os.sysconf("SC_PAGE_SIZE")
LIBC = ctypes.CDLL("libc.so.6")
M_MMAP_THRESHOLD = -3


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRSS:
    """Largest resident set size (bytes) above the one at entry, sampled every 2 ms."""

    def __enter__(self):
        LIBC.malloc_trim(0)
        self.base = self.peak = rss()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while not self.stop.wait(0.001):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, rss())
        self.used = self.peak - self.base


def settle_batchnorm(model, x) -> None:
    """BatchNorm's running statistics set to this batch's (cumulative average over one forward), so
    each BN output is about standard normal and the random network fires at rates a trained one has
    (about 0.1 per neuron per step with v_th = 1), not zero."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


def timed(fn) -> float:
    """Seconds one call of fn takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def best_of(fn, repeats: int = 5) -> float:
    """The least of `repeats` timings of fn (the other benches use it too)."""
    return min(timed(fn) for _ in range(repeats))


def build(arch: str, neuron: str, batch: int):
    """(model, batch of inputs, quantised program), the same in every process (seeded)."""
    size, c_in, classes, T, _ = NETS[arch]
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, neuron=neuron, num_classes=classes, in_channels=c_in, input_size=size,
                      timesteps=T)
    model = build_model(cfg)
    x = torch.rand(batch, c_in, size, size) if arch == "digitnet" else torch.randn(batch, c_in, size, size)
    settle_batchnorm(model, x)
    program = quantize(lower(model, (c_in, size, size), "calibrated", [x]))
    return model, x, program


def peak_mb(arch: str, neuron: str, batch: int, phase: str) -> float:
    """Peak memory (MiB above the start) of one float forward or one simulator run, measured
    in a fresh process (`--memory`)."""
    r = subprocess.run([sys.executable, __file__, "--memory", f"{arch},{neuron},{batch},{phase}"],
                       capture_output=True, text=True, check=True)
    return float(r.stdout.split()[-1])


def memory_of(spec: str) -> float:
    arch, neuron, batch, phase = spec.split(",")
    LIBC.mallopt(M_MMAP_THRESHOLD, 64 * 1024)       # fixed: glibc's adaptive threshold would cache
    model, x, program = build(arch, neuron, int(batch))
    sim = Simulator(program)
    run = (lambda: model(x)) if phase == "float" else (lambda: sim.run(x, mode="window"))
    with PeakRSS() as m, torch.no_grad():
        run()
    return m.used / 2**20


def measure(arch: str, neuron: str, batch: int, repeats: int) -> dict:
    size, c_in, classes, T, default = NETS[arch]
    batch = batch or default
    model, x, program = build(arch, neuron, batch)
    sim = Simulator(program)
    with torch.no_grad():
        model(x)                                     # warm-up both
    r = sim.run(x, mode="window")
    t_float, t_sim = [], []
    for _ in range(repeats):                         # alternate, so drift hits both alike
        with torch.no_grad():
            t_float.append(timed(lambda: model(x)))
        t_sim.append(timed(lambda: sim.run(x, mode="window")))
    peak = {phase: peak_mb(arch, neuron, batch, phase) for phase in ("float", "sim")}
    neurons = sum(float(torch.tensor(l.shape).prod()) for l in program.neurons.values())
    rate = r.counts["total"]["spikes"] / (neurons * T * batch)
    f, s = min(t_float), min(t_sim)
    return {"arch": arch, "neuron": neuron, "input": [c_in, size, size], "timesteps": T, "batch": batch,
            "float_s": f, "sim_s": s, "ratio": s / f, "float_samples_per_s": batch / f,
            "sim_samples_per_s": batch / s, "float_peak_mb": peak["float"],
            "sim_peak_mb": peak["sim"], "firing_rate": rate, "layers": len(program.neurons)}


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", default=",".join(NETS))
    p.add_argument("--neurons", default="lif,staa")
    p.add_argument("--batch", type=nonneg_int, default=0, help="samples per batch (0: 450 for digitnet, 16 otherwise)")
    p.add_argument("--repeats", type=positive_int, default=3)
    p.add_argument("--threads", type=nonneg_int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default=None, help="write OUT.md and OUT.json")
    p.add_argument("--memory", default=None, help=SUPPRESS)   # ARCH,NEURON,BATCH,PHASE: one measurement
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory:
        print(f"{memory_of(args.memory):.1f}")
        return 0
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"best of {args.repeats}, window mode")
    head = f"{'network':10} {'neuron':6} {'sim/float':>9} {'float/s':>9} {'sim/s':>9} " \
           f"{'float MB':>9} {'sim MB':>9} {'rate':>6}"
    print(head)
    for arch in args.nets.split(","):
        for neuron in args.neurons.split(","):
            r = measure(arch, neuron, args.batch, args.repeats)
            rows.append(r)
            print(f"{arch:10} {neuron:6} {r['ratio']:9.2f} {r['float_samples_per_s']:9.1f} "
                  f"{r['sim_samples_per_s']:9.1f} {r['float_peak_mb']:9.0f} {r['sim_peak_mb']:9.0f} "
                  f"{r['firing_rate']:6.3f}", flush=True)
    if args.out:
        out = Path(args.out)
        meta = {"command": "python bench/sim_speed.py " + " ".join(sys.argv[1:]), "torch": torch.__version__,
                "threads": torch.get_num_threads(), "batch": args.batch, "repeats": args.repeats}
        out.with_suffix(".json").write_text(json.dumps({**meta, "rows": rows}, indent=1))
        lines = ["# Chip simulator vs float forward", "", f"`{meta['command']}`: torch {meta['torch']}, "
                 f"{meta['threads']} threads, best of {args.repeats}, window mode.", "",
                 "| network | neuron | batch | sim / float time | float samples/s | sim samples/s | float peak MB | "
                 "sim peak MB | firing rate |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['arch']} {'x'.join(map(str, r['input']))} | {r['neuron']} | {r['batch']} | {r['ratio']:.2f} | "
                  f"{r['float_samples_per_s']:.1f} | {r['sim_samples_per_s']:.1f} | {r['float_peak_mb']:.0f} | "
                  f"{r['sim_peak_mb']:.0f} | {r['firing_rate']:.3f} |" for r in rows]
        out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
