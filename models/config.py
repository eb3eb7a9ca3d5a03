"""ModelConfig: everything needed to rebuild a network; TrainConfig: how it was trained.  Both are
stored in every checkpoint."""

from __future__ import annotations

import math
import typing
from dataclasses import asdict, dataclass, fields

from spikefold.models.data.cifar import AUGMENTS
from spikefold.models.data.registry import DATASETS
from spikefold.models.staa_lif import ATTENTION
from spikefold.models.surrogate import SURROGATES

from spikefold.common.errors import require
from spikefold.common.validate import MAX_TIMESTEPS


def check_types(cfg) -> None:
    """Each field holds its declared type (an int field a whole number, not 4.5 or True; a float
    field any real number; a str field a string): InputError naming the field otherwise.  A config
    read from a file can hold anything."""
    for f in fields(cfg):
        v, kinds = getattr(cfg, f.name), typing.get_args(HINTS[type(cfg)][f.name]) or (HINTS[type(cfg)][f.name],)
        if v is None and type(None) in kinds:
            continue
        ok = any(not isinstance(v, bool) and (isinstance(v, k) or (k is float and isinstance(v, int)))
                 if k in (int, float) else isinstance(v, k) for k in kinds if k is not type(None))
        names = " or ".join(k.__name__ for k in kinds)
        require(ok, f"{f.name} must be {names} (got {type(v).__name__} {v!r:.40})")


def check_ranges(cfg, rules: dict) -> None:
    """rules: field -> (low, high, low_open): each value must lie in [low, high] ((low, high]
    if low_open); None means unbounded.  InputError naming the field otherwise."""
    check_types(cfg)
    for name, (low, high, low_open) in rules.items():
        v = getattr(cfg, name)
        ok = math.isfinite(v) and (low is None or v > low or (v == low and not low_open)) and (high is None or v <= high)
        rng = f"{'(' if low_open else '['}{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        require(ok, f"{name} must lie in {rng} (got {v})")


@dataclass
class ModelConfig:
    """A spiking network: backbone, neuron type and the neuron's hyper-parameters.

    Defaults follow the STAA-SNN paper (v_th = 1, surrogate width a = 1,
    GC ratio r = 4, SA reduction 16, alpha = 2) and the small digits setting.
    """

    arch: str = "digitnet"        # digitnet | res19 | res20m | vgg13 | resnet18 | resnet34 | nirnet
    neuron: str = "staa"          # lif | staa | fsta | sma
    num_classes: int = 10
    in_channels: int = 1
    input_size: int = 8           # pixels, square input
    timesteps: int = 4            # T
    tau: float = 2.0              # LIF time constant in steps: M = 1 - 1/tau, N = 1/tau
    v_th: float = 1.0
    surrogate_width: float = 1.0  # a in eq. (5)
    gc: bool = True               # STAA components (ignored for neuron=lif)
    pe: bool = True
    sa: bool = True
    adaptive: bool = True         # learnable per-channel M, N
    gc_ratio: int = 4
    gc_pool: str = "sum"
    sa_reduction: int = 16
    sa_alpha: float = 2.0
    sa_scale: float = 1.0         # SA gate = sa_scale * sigmoid(...): 1 is eq. (12), whose gate starts near 0.5 and
                                  # halves the input; 2 starts it near 1 (issue 15's probe, bench/ablation_staa.py)
    tsrd_beta: float = 0.0        # TSRD probability (training only)
    staa_attention: str = "dynamic"  # dynamic: GC, SA, PE computed from the data (the paper's) | static: the
                                  # per-channel constants the fold computes, trained in place (deployable;
                                  # models/staa_lif.py, what models/train.py --static-epochs leaves)
    fsta_decay: float = 0.25      # FSTA networks' LIF: V = decay * H + I (reference code)
    fsta_v_th: float = 0.5        # and its threshold
    azo_t: float = 0.25           # SMA's Attention ZoneOut: fraction of timesteps (training only; authors' 1/RTR)
    azo_c: float = 0.1            # and of channels at those timesteps (authors' 1/RCR, RCR = 10)
    sma_units: str = "auto"       # conv-BN-LIF units that carry SMA: auto (the authors' blocks 2-3 of 5, scaled) or "1,2"
    surrogate: str = "rect"       # plain LIF neurons (lif, sma): rect (STAA eq. 5) | atan (SpikingJelly ATan, alpha 2)
    detach_reset: bool = False    # plain LIF neurons: no gradient through the reset (the SMA authors' choice)
    res19_head: str = "fc"        # res19: fc (FC 512 -> classes) | tdbn (FC 512 -> 256 -> neuron -> classes)
    stem_pool: str = "avg"        # resnet18/34 stem: avg (AvgPool 2, foldable) | max (MaxPool 3x3/2, the papers'; not lowerable)

    REQUIRED = ("arch", "neuron", "num_classes", "in_channels", "input_size", "timesteps")
    # Upper bounds: sizes a chip system and this machine can hold (ImageNet-21k has 21,841
    # classes; a 1024 x 1024 input is 1 M host-side values per channel; timesteps as
    # spikefold.common.validate.MAX_TIMESTEPS).
    RANGES = {"num_classes": (1, 100_000, False), "in_channels": (1, 1024, False),
              "input_size": (1, 1024, False), "timesteps": (1, MAX_TIMESTEPS, False),
              # M = 1 - 1/tau must lie in [0, 1): the chip's leak dv = 4096 (1 - M) is 12-bit unsigned
              "tau": (1.0, None, False), "v_th": (0.0, None, True),
              "surrogate_width": (0.0, None, True), "gc_ratio": (1, None, False),
              "sa_reduction": (1, None, False), "sa_alpha": (None, None, False),
              "sa_scale": (0.0, None, True),
              "tsrd_beta": (0.0, 1.0, False), "fsta_decay": (0.0, 1.0, False),
              "fsta_v_th": (0.0, None, True), "azo_t": (0.0, 1.0, False), "azo_c": (0.0, 1.0, False)}

    def __post_init__(self):
        check_ranges(self, self.RANGES)
        if self.res19_head not in ("fc", "tdbn"):
            raise ValueError(f"res19_head must be fc or tdbn (got {self.res19_head!r})")
        if self.staa_attention not in ATTENTION:
            raise ValueError(f"staa_attention must be dynamic or static (got {self.staa_attention!r})")
        if self.stem_pool not in ("avg", "max"):
            raise ValueError(f"stem_pool must be avg or max (got {self.stem_pool!r})")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {', '.join(SURROGATES)} (got {self.surrogate!r})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise KeyError(f"unknown ModelConfig keys: {', '.join(unknown)}")
        missing = [k for k in cls.REQUIRED if k not in d]
        if missing:  # later fields may default (older checkpoints), these never
            raise KeyError(f"ModelConfig lacks {', '.join(missing)}")
        return cls(**d)


MAX_EPOCHS = 100_000
MAX_LR = 100.0


@dataclass
class TrainConfig:
    """How a network is trained (the data it sees, the optimiser, the schedule)."""

    dataset: str = "digits"
    data_root: str | None = None
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    loss: str = "ce"              # ce: on the T-averaged logits | tet: mean over t of CE(logits_t) | mse: of the T-averaged logits to one-hot targets (the SMA authors')
    augment: str = "standard"     # CIFAR: standard | autoaugment | cutout | autoaugment+cutout (models/data/cifar.py)
    optimizer: str = "sgd"        # sgd (momentum, the STAA recipe) | adamw (the SMA authors': lr 1e-4, weight decay 1e-3)
    attention_lr: float = 1.0     # learning rate of the attention parameters (STAA's GC, SA, PE) as a multiple of lr
    tet_lambda: float = 1e-3      # weight of TET's MSE term towards the target membrane (phi = 1)
    static_epochs: int = 10       # STAA with dynamic attention: after `epochs`, freeze GC, SA and PE to the constants
                                  # the compiler's fold computes and train this many more epochs, so the checkpoint is
                                  # what the chip runs (0: keep the paper's dynamic STAA, which the fold costs accuracy)
    static_lr: float = 0.05       # learning rate of that phase (its own cosine schedule, same optimiser)
    calib_samples: int = 256      # training inputs that measure the constants (as compile/to_nir.py's default)
    seed: int = 0
    workers: int = 0
    device: str = "auto"          # auto | cpu | cuda
    threads: int = 0              # torch intra-op threads on CPU (0: torch's default)

    # Upper bounds: far past any recipe (the seeds' longest: 600 epochs at lr 0.1), where a typo
    # would otherwise train without end or overflow the weights in one step.
    RANGES = {"epochs": (1, MAX_EPOCHS, False), "batch_size": (1, 1 << 20, False), "lr": (0.0, MAX_LR, True),
              "momentum": (0.0, 1.0, False), "weight_decay": (0.0, MAX_LR, False),
              "label_smoothing": (0.0, 1.0, False), "tet_lambda": (0.0, 1e6, False),
              "attention_lr": (0.0, 1e3, False), "static_epochs": (0, MAX_EPOCHS, False),
              "static_lr": (0.0, MAX_LR, True), "calib_samples": (1, 1 << 24, False),
              "workers": (0, 1024, False), "threads": (0, 4096, False)}

    def __post_init__(self):
        check_ranges(self, self.RANGES)
        require(self.dataset in DATASETS, f"dataset must be one of {', '.join(DATASETS)} (got {self.dataset!r})")
        require(self.loss in ("ce", "tet", "mse"), f"loss must be ce, tet or mse (got {self.loss!r})")
        require(self.optimizer in ("sgd", "adamw"), f"optimizer must be sgd or adamw (got {self.optimizer!r})")
        require(self.augment in AUGMENTS, f"augment must be one of {', '.join(AUGMENTS)} (got {self.augment!r})")
        require(self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda (got {self.device!r})")


HINTS = {cls: typing.get_type_hints(cls) for cls in (ModelConfig, TrainConfig)}
