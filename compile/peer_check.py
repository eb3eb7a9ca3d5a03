"""Does a peer read our NIR file right?  Its own simulation against ours, layer by layer.

`check(graph, path, peer, x)` runs `compile/peer_run.py` for `peer` in the interpreter that has
the peer (a subprocess: SpikingJelly 2.0 lives beside the project's SpikingJelly 0.0.0.0.14, and
Sinabs in a virtual environment of its own) and compares, on inputs x (B, C, H, W), each LIF
layer's spikes and the output with `GraphNet(graph)`, the network the file was written from,
both sides in x's dtype (float64 for an exact comparison) and tie-aware.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from spikefold.compile.agreement import TIE64, spike_agreement
from spikefold.compile.executor import GraphNet
from spikefold.compile.graph import Graph
from spikefold.compile.nodes import Input

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "compile" / "peer_run.py"
# SpikingJelly 2.0 beside the 0.0.0.0.14 that syops-counter needs (Makefile: --target)
SPIKINGJELLY2 = ROOT / ".venv" / "peers" / "spikingjelly2"


def peer_python(peer: str) -> tuple[str, dict]:
    """(interpreter, environment) in which `peer` imports, within the project's environment."""
    env = dict(os.environ)
    if peer == "spikingjelly":
        env["PYTHONPATH"] = os.pathsep.join([str(SPIKINGJELLY2), env.get("PYTHONPATH", "")])
    return sys.executable, env


def run_peer(peer: str, path, x: torch.Tensor, timesteps: int, python: str | None = None,
             dt: float | None = None, sequence: bool = False) -> dict:
    """peer_run.run's result for `peer` on file `path`, computed in the peer's interpreter; x
    (B, *sample) the same every step, or with `sequence` (B, T, *sample) one frame a step."""
    exe, env = peer_python(peer)
    with tempfile.TemporaryDirectory() as d:
        inputs, out = Path(d) / "in.pt", Path(d) / "out.pt"
        torch.save({"x": x, "timesteps": timesteps, "sequence": sequence}, inputs)
        cmd = [python or exe, str(RUNNER), peer, str(path), str(inputs), str(out)]
        if dt is not None:
            cmd += ["--dt", repr(dt)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{peer} failed on {path}: {done.stderr.strip().splitlines()[-1]}")
        return torch.load(out, weights_only=True)


def compare(graph: Graph, got: dict, x: torch.Tensor, eps: float = TIE64) -> dict:
    """Per-layer spike agreement (fraction of (step, sample, neuron) positions equal), same
    prediction (argmax of the summed output) and the output's max |difference| on the clean
    samples, against GraphNet(graph) on x in x's dtype; the tie-aware `agreement`
    (spikefold.compile.agreement, ties of width eps in our membrane potential); and the peer's own
    predictions (B,).  Run x in float64: in float32 the two sides' rounding decides near ties."""
    net = GraphNet(graph, dtype=x.dtype)
    with torch.no_grad():
        want = net(x, record=True)
    agreement = spike_agreement(((name, s, got["spikes"][name], v, graph.nodes[name].v_th)
                                 for name, (s, v) in net.record.items()), eps)
    out = got["output"].reshape(want.shape)
    clean = agreement.clean
    return {"samples": len(x), "agreement": agreement,
            "spike_agreement": {k: a.agreement for k, a in agreement.layers.items()},
            "spike_rate": {name: float(s.mean()) for name, (s, _) in net.record.items()},
            "same_prediction": float((out.sum(0).argmax(1) == want.sum(0).argmax(1)).float().mean()),
            "output_max_abs_diff": float((out[:, clean] - want[:, clean]).abs().max()) if clean.any() else 0.0,
            "predictions": out.sum(0).argmax(1).tolist()}


def check(graph: Graph, path, peer: str, x: torch.Tensor, python: str | None = None,
          dt: float | None = None, eps: float = TIE64) -> dict:
    """compare() of the peer's run of `path` with GraphNet(graph) on x: (B, *input shape) static
    or (B, T, *input shape) frames."""
    sequence = x.dim() == len(graph.nodes[graph.of_type(Input)[0]].shape) + 2
    return compare(graph, run_peer(peer, path, x, int(graph.meta["timesteps"]), python, dt, sequence), x, eps)
