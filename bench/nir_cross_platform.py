"""The NIR paper's cross-platform table (Pedersen et al., Nature Communications 2024, Fig. 4) on
spikefold's checkpoints: one trained network, written as NIR, run in every peer that reads it and
on the chip, accuracy per platform and per-layer spike agreement with spikefold's float graph.

    python bench/nir_cross_platform.py CKPT [CKPT ...] [--samples 1000] [--lava-samples 20]
                                       [--venv-dir ~/.cache/spikefold/peer-venvs] [--out bench/results]

Rows per checkpoint, on the first --samples test samples of its dataset:
  PyTorch            the checkpoint as trained (models/), its own forward pass
  spikefold float    the lowered graph (compile/: BatchNorm, pooling and attention folded), GraphNet
  snnTorch, Norse, SpikingJelly 2.0, Sinabs
                     the file `compile/to_nir.py --for PEER` writes, run by the peer's own importer
                     and simulator (compile/peer_run.py; Sinabs in the NIR-1.0.4 venv of
                     bench/nir_peers.py); a peer that refuses the export or fails says why
  Rockpool 3.1       whether its own from_nir reads the file `--for rockpool` writes (or why the
                     export is refused: Rockpool 3.1 maps no Conv2d)
  Loihi (simulator)  the fixed-point program (deploy/quantize.py) in the fast simulator, event
                     inputs entering the chip as one spike per event (deploy/samples.py)
  Loihi (Lava)       the same program in Lava's bit-accurate simulator, streamed, on the first
                     --lava-samples samples (its readout checked identical to the fast simulator's)
Spike agreement: the fraction of (step, sample, neuron) positions whose spike equals the
spikefold float graph's, per spiking layer.  Writes nir_cross_platform.md and .json into --out.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nir_peers import pinned_venv, rockpool_reads  # noqa: E402  (the Sinabs and Rockpool venv, built once)

from spikefold.common.cli import ArgumentParser, command, nonneg_int, positive_int  # noqa: E402
from spikefold.compile.executor import GraphNet  # noqa: E402
from spikefold.compile.nir_io import write_nir  # noqa: E402
from spikefold.compile.nir_peers import PEERS, PeerRefused  # noqa: E402
from spikefold.compile.peer_check import ROOT, check  # noqa: E402
from spikefold.compile.calibrate import has_live_attention  # noqa: E402
from spikefold.compile.pipeline import lower  # noqa: E402
from spikefold.deploy.lava_compat import LAVA  # noqa: E402
from spikefold.deploy.quantize import quantize  # noqa: E402
from spikefold.deploy.samples import Samples, inputs_on_chip  # noqa: E402
from spikefold.models.checkpoint import model_from_checkpoint  # noqa: E402
from spikefold.models.data import load_dataset  # noqa: E402
from spikefold.simulate.engine import Simulator  # noqa: E402

PEER_ROWS = (("snntorch", "snnTorch"), ("norse", "Norse"), ("spikingjelly", "SpikingJelly 2.0"),
             ("sinabs", "Sinabs"), ("rockpool", "Rockpool 3.1"))


def test_inputs(model, ckpt: dict, samples: int) -> tuple:
    """(x, y, dataset): the first `samples` test samples of the checkpoint's dataset."""
    cfg, dataset = model.cfg, ckpt.get("train_config", {}).get("dataset", "digits")
    test = load_dataset(dataset, None, False, cfg.timesteps, cfg.input_size)
    n = min(samples, len(test)) if samples else len(test)
    items = [test[i] for i in range(n)]
    return torch.stack([a for a, _ in items]), torch.tensor([int(b) for _, b in items]), dataset


def folded(model, dataset: str) -> tuple:
    """(graph, fold): calibrated on 128 training samples where attention lives, else exact folds."""
    cfg = model.cfg
    shape = (cfg.in_channels, cfg.input_size, cfg.input_size)
    if not has_live_attention(model):
        return lower(model, shape, "none"), "none"
    train = load_dataset(dataset, None, True, cfg.timesteps, cfg.input_size)
    calib = [torch.stack([train[i][0] for i in range(128)])]
    return lower(model, shape, "calibrated", calib), "calibrated"


def batched(fn, x: torch.Tensor, size: int = 100) -> torch.Tensor:
    return torch.cat([fn(x[i:i + size]) for i in range(0, len(x), size)])


def chip_rows(graph, x, y, lava_samples: int) -> list[dict]:
    """The fast simulator on every sample and Lava (streamed) on the first lava_samples."""
    on_chip = inputs_on_chip(graph, Samples(x))
    program = quantize(on_chip)
    sim = Simulator(program)
    net = GraphNet(graph)
    agree: dict = {}

    def run(xb):
        r = sim.run(xb, record=True, mode="window")
        with torch.no_grad():
            net(xb, record=True)
        for name, (s, _) in net.record.items():
            if name in r.spikes:
                a = agree.setdefault(name, [0, 0])
                a[0] += int((r.spikes[name][: len(s)] == (s > 0)).sum())
                a[1] += s.numel()
        return r.logits.mean(0).argmax(1)

    pred = batched(run, x, 50)
    events = "input spikes on the chip" if program.host.kind == "spikes" else "first layer on the host"
    rows = [{"platform": "Loihi (fast simulator)", "samples": len(x), "accuracy": acc(pred, y),
             "spike_agreement": {k: a / b for k, (a, b) in agree.items()},
             "note": f"fixed point; {events}; spike for spike what Lava runs (tests/deploy)"}]
    why = program.why_not_streamed()
    if why:
        rows.append({"platform": "Loihi (Lava, bit-accurate)", "samples": 0, "note": f"not streamed: {why}"})
    elif LAVA and lava_samples:
        from spikefold.deploy.lava_graph import run_lava_stream
        k = min(lava_samples, len(x))
        t0 = time.perf_counter()
        ro, _ = run_lava_stream(program, x[:k])
        lava_pred = program.logits(ro).mean(0).argmax(1)
        same = int(sum(torch.equal(ro[:, b], sim.run(x[b:b + 1], mode="window").readout[:, 0]) for b in range(k)))
        rows.append({"platform": "Loihi (Lava, bit-accurate)", "samples": k, "accuracy": acc(lava_pred, y[:k]),
                     "note": f"streamed; readout identical to the fast simulator's on {same}/{k}; "
                             f"{time.perf_counter() - t0:.0f} s"})
    return rows


def acc(pred: torch.Tensor, y: torch.Tensor) -> float:
    return 100.0 * float((pred == y).float().mean())


def peer_rows(graph, x, y, pinned: str | None, work: Path) -> list[dict]:
    rows = []
    for peer, label in tqdm(PEER_ROWS, desc="peers", leave=False):
        path = work / f"{peer}.nir"
        row = {"platform": label, "samples": len(x)}
        if peer == "sinabs" and pinned is None:  # (Rockpool is answered below)
            rows.append({**row, "note": "skipped (--no-sinabs)"})
            continue
        try:
            write_nir(graph, path, form=PEERS[peer])
            if peer == "rockpool":      # Rockpool reads NIR but runs no simulation peer_run can drive here
                rows.append({**row, "note": f"Rockpool's own from_nir on the file: {rockpool_reads(pinned, path)}"
                             if pinned else "skipped (--no-sinabs: Rockpool shares Sinabs' venv)"})
                continue
            r = check(graph, path, peer, x, pinned if peer == "sinabs" else None)
        except PeerRefused as e:
            rows.append({**row, "note": f"export refused: {e}"})
            continue
        except RuntimeError as e:
            rows.append({**row, "note": f"peer fails: {str(e).split(': ', 1)[-1][:160]}"})
            continue
        rows.append({**row, "accuracy": acc(torch.tensor(r["predictions"]), y),
                     "spike_agreement": r["spike_agreement"], "same_prediction": 100 * r["same_prediction"],
                     "note": f"the file `--for {peer}` writes, the peer's own importer"})
    return rows


def table(name: str, about: str, rows: list[dict]) -> list[str]:
    layers = next((list(r["spike_agreement"]) for r in rows if "spike_agreement" in r), [])
    lines = [f"## {name}", "", about, "",
             "| platform | samples | accuracy (%) | spike agreement per layer with the float graph (%) | note |",
             "|---|---|---|---|---|"]
    for r in rows:
        a = "-" if "accuracy" not in r else f"{r['accuracy']:.2f}"
        s = r.get("spike_agreement")
        s = "-" if s is None else " / ".join(f"{100 * s[k]:.2f}" for k in layers if k in s)
        lines.append(f"| {r['platform']} | {r['samples']} | {a} | {s} | {r.get('note', '')} |")
    return lines + ["", f"Layers: {', '.join(layers)}.", ""]


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--samples", type=nonneg_int, default=1000, help="test samples (0: all)")
    p.add_argument("--lava-samples", type=nonneg_int, default=20)
    p.add_argument("--venv-dir", default=str(Path.home() / ".cache" / "spikefold" / "peer-venvs"))
    p.add_argument("--no-sinabs", action="store_true", help="skip Sinabs (its venv takes minutes to build)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    p.add_argument("--threads", type=positive_int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    pinned = None if args.no_sinabs else pinned_venv(Path(args.venv_dir) / "nir104")
    md = ["# The NIR paper's cross-platform table on spikefold's networks", "",
          "Command: `python bench/" + Path(__file__).name + " " + " ".join(argv or sys.argv[1:]) + "`. "
          "Layout as the NIR paper's Fig. 4 (Pedersen et al. 2024): one trained network per table, "
          "run on every platform that reads it.", ""]
    results = []
    for path in args.checkpoints:
        t0 = time.perf_counter()
        model, ckpt = model_from_checkpoint(path)
        x, y, dataset = test_inputs(model, ckpt, args.samples)
        cfg = model.cfg
        graph, fold = folded(model, dataset)
        with torch.no_grad():
            torch_pred = batched(lambda xb: model(xb).mean(0).argmax(1), x)   # (T, B, K) -> (B,)
            float_pred = batched(lambda xb: GraphNet(graph)(xb).mean(0).argmax(1), x)
        rows = [{"platform": "PyTorch (checkpoint)", "samples": len(x), "accuracy": acc(torch_pred, y),
                 "note": f"{cfg.arch}, {cfg.neuron}, T = {cfg.timesteps}, as trained"},
                {"platform": "spikefold float graph", "samples": len(x), "accuracy": acc(float_pred, y),
                 "note": f"folded ({'exact folds' if fold == 'none' else 'attention calibrated'}), compile/executor.py"}]
        with tempfile.TemporaryDirectory() as d:
            rows += peer_rows(graph, x, y, pinned, Path(d))
        rows += chip_rows(graph, x, y, args.lava_samples)
        seconds = time.perf_counter() - t0
        about = (f"`{path}`: {cfg.arch} with {cfg.neuron} neurons, T = {cfg.timesteps}, trained on {dataset}; "
                 f"the first {len(x)} test samples; {seconds:.0f} s on this machine.")
        md += table(f"{cfg.arch} ({cfg.neuron}) on {dataset}", about, rows)
        results.append({"checkpoint": path, "dataset": dataset, "arch": cfg.arch, "neuron": cfg.neuron,
                        "timesteps": cfg.timesteps, "fold": fold, "seconds": round(seconds, 1), "rows": rows})
        print("\n".join(table(f"{cfg.arch} ({cfg.neuron}) on {dataset}", about, rows)), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nir_cross_platform.md").write_text("\n".join(md))
    (out / "nir_cross_platform.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {out / 'nir_cross_platform.md'} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
