"""Parameter counts per block and in total.

    python models/summary.py --arch res20m --neuron staa --classes 100 --input 32

Each top-level block of the body and the classifier gets a line, split into
synaptic parameters (conv, linear, BN) and attention parameters (GC, SA, PE
and the adaptive M, N of STAA-LIF).
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys

from torch import nn

from spikefold.common import validate
from spikefold.models.attention import GlobalContext, StepAttention
from spikefold.models.backbones import ARCHS, build_model
from spikefold.models.config import ModelConfig
from spikefold.models.neurons import NEURONS
from spikefold.models.staa_lif import STAALIF
from spikefold.common.cli import ArgumentParser, command, positive_int


def count(module: nn.Module) -> tuple[int, int]:
    """(synaptic, attention) parameter counts of a module."""
    attention = 0
    for m in module.modules():
        if isinstance(m, (GlobalContext, StepAttention)):
            attention += sum(p.numel() for p in m.parameters())
        elif isinstance(m, STAALIF):
            attention += sum(p.numel() for p in m.parameters(recurse=False))
    total = sum(p.numel() for p in module.parameters())
    return total - attention, attention


def summarize(model: nn.Module) -> list[tuple[str, str, int, int]]:
    """(name, module type, synaptic, attention) per top-level block, body then head."""
    rows = [(f"body.{name}", type(m).__name__, *count(m)) for name, m in model.body.named_children()]
    rows.append(("head", type(model.head).__name__, *count(model.head)))
    return rows


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="res20m", choices=list(ARCHS))
    p.add_argument("--neuron", default="staa", choices=list(NEURONS))
    p.add_argument("--classes", type=positive_int, default=100)
    p.add_argument("--input", type=positive_int, default=32, help="input side in pixels")
    p.add_argument("--in-channels", type=positive_int, default=3)
    p.add_argument("--timesteps", type=validate.timesteps_arg, default=4)
    a = p.parse_args(argv)
    cfg = ModelConfig(arch=a.arch, neuron=a.neuron, num_classes=a.classes, input_size=a.input,
                      in_channels=a.in_channels, timesteps=a.timesteps)
    model = build_model(cfg)
    rows = summarize(model)
    print(f"{a.arch} / {a.neuron}, {a.classes} classes, {a.input}x{a.input}x{a.in_channels}, T={a.timesteps}")
    print(f"{'block':<14}{'type':<14}{'synaptic':>12}{'attention':>12}{'total':>12}")
    for name, kind, syn, att in rows:
        print(f"{name:<14}{kind:<14}{syn:>12,}{att:>12,}{syn + att:>12,}")
    syn, att = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{'total':<28}{syn:>12,}{att:>12,}{syn + att:>12,}  ({(syn + att) / 1e6:.2f} M)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
