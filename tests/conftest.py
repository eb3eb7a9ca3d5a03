"""Shared fixtures: small trained digits checkpoints and the digits test split as tensors."""
import hashlib
import json
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from spikefold.models.config import ModelConfig
from spikefold.models.data import load_dataset
from spikefold.models.config import TrainConfig
from spikefold.models.train import train


ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / ".cache" / "test-fixtures"


def _code_hash() -> str:
    """What a trained fixture depends on: the training code (models/, spikefold/common)."""
    h = hashlib.sha256()
    for f in sorted([*ROOT.glob("models/**/*.py"), *ROOT.glob("spikefold/common/**/*.py")]):
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _train(name, neuron, epochs, static_epochs=0, **model):
    """A small digitnet checkpoint, trained once per configuration, training code and torch: cached in
    .cache/test-fixtures under a key of both, so the xdist workers and make test's other-machine
    pass share one copy (a lock makes the other workers wait for the first).  Reusing it is sound:
    the checkpoint is an input to the tests, not a result they check."""
    mcfg = ModelConfig(arch="digitnet", neuron=neuron, num_classes=10, in_channels=1,
                       input_size=8, timesteps=4, **model)
    tcfg = TrainConfig(dataset="digits", epochs=epochs, static_epochs=static_epochs, seed=0)
    key = hashlib.sha256(json.dumps([mcfg.to_dict(), repr(tcfg), _code_hash(), torch.__version__], sort_keys=True,
                                    default=str).encode()).hexdigest()[:16]
    out = FIXTURES / f"{name}-{key}.pt"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not out.exists():
            tmp = out.with_suffix(".part")
            train(mcfg, tcfg, str(tmp), quiet=True)
            tmp.replace(out)
    return out


@pytest.fixture(scope="session")
def lif_ckpt():
    """digitnet with plain LIF neurons, 6 epochs on digits (about 5 s)."""
    return _train("lif", "lif", 6)


@pytest.fixture(scope="session")
def staa_ckpt():
    """digitnet with STAA-LIF neurons (GC, PE, SA, adaptive M/N), 6 epochs on digits (about 10 s),
    its attention live (no static phase): what the calibrated folds work on."""
    return _train("staa", "staa", 6)


@pytest.fixture
def float64():
    """torch's default dtype float64 for one test: models built or loaded, graphs executed
    (GraphNet) and inputs made in it.  Two different float computations of one network (a
    checkpoint and its folded graph, a peer and us) are compared in float64 or tie-aware
    (spikefold.compile.agreement), never in float32: a machine's kernels (oneDNN's ISA, ATen's
    capability, the thread count) sum in their own order and move a float32 potential by ~1e-7,
    enough to flip a spike near its threshold on one machine and not another (issues 25, 39);
    in float64 the same reordering moves it by ~1e-15."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture(scope="session")
def digits_test():
    ds = load_dataset("digits", None, False, 4)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor([int(ds[i][1]) for i in range(len(ds))])
    return x, y


class Build:
    """Builders of small hand-made graphs for the pass tests (a fixture: test modules are not
    importable from each other under --import-mode=importlib)."""
    import numpy as _np
    rng = _np.random.default_rng(0)

    @classmethod
    def conv(cls, c_in, c_out, shape, k=3, stride=1, pad=1, source=""):
        from spikefold.compile.nodes import Conv2d
        return Conv2d(cls.rng.normal(0, 0.5, (c_out, c_in, k, k)), cls.rng.normal(0, 0.1, c_out),
                      (stride, stride), (pad, pad), shape, source)

    @classmethod
    def linear(cls, f_in, f_out):
        from spikefold.compile.nodes import Linear
        return Linear(cls.rng.normal(0, 0.5, (f_out, f_in)), cls.rng.normal(0, 0.1, f_out), (f_out,))

    @staticmethod
    def lif(shape, leak=0.5, gain=0.5, v_th=1.0, source=""):
        import numpy as np
        from spikefold.compile.nodes import LIF
        return LIF(np.full(shape[0], leak), np.full(shape[0], gain), v_th, shape, source)

    @staticmethod
    def graph(named, edges=None, timesteps=4):
        """Graph of [(name, node), ...]; without `edges`, each node feeds the next."""
        from spikefold.compile.graph import Graph
        nodes = dict(named)
        names = list(nodes)
        return Graph.build(nodes, edges or list(zip(names[:-1], names[1:])), {"timesteps": timesteps})

    @staticmethod
    def residual(rng, c=3):
        """conv-LIF, then a block conv-LIF-conv plus a 1x1-conv shortcut, joined in one LIF (the
        shortcut is one step ahead: quantize gives it a relay layer); 4x4 images, T = 4."""
        from spikefold.compile.graph import Graph
        from spikefold.compile.nodes import Conv2d, Flatten, Input, LIF, Linear, Output
        conv = lambda c_in, k: Conv2d(rng.normal(0.3, 0.6, (c, c_in, k, k)), rng.normal(0.1, 0.2, c),
                                      (1, 1), (k // 2, k // 2), (c, 4, 4))
        lif = lambda: LIF(rng.uniform(0.2, 0.8, c), Build._np.ones(c), 1.0, (c, 4, 4))
        nodes = {"in": Input((1, 4, 4)), "c0": conv(1, 3), "l0": lif(), "c1": conv(c, 3), "l1": lif(),
                 "c2": conv(c, 3), "short": conv(c, 1), "l2": lif(), "flat": Flatten((c * 16,)),
                 "fc": Linear(rng.normal(0, 1, (4, c * 16)), Build._np.zeros(4), (4,)), "out": Output((4,))}
        edges = [("in", "c0"), ("c0", "l0"), ("l0", "c1"), ("c1", "l1"), ("l1", "c2"), ("c2", "l2"),
                 ("l0", "short"), ("short", "l2"), ("l2", "flat"), ("flat", "fc"), ("fc", "out")]
        return Graph.build(nodes, edges, {"timesteps": 4})


@pytest.fixture
def build():
    return Build
