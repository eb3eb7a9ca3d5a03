"""Every NIR peer on our files: the LIF and the STAA digits nets, each peer running its own
simulation of the form `compile/to_nir.py --for PEER` writes, against ours, on the 450 digits
test inputs.

    python bench/nir_peers.py [--epochs 6] [--venv-dir ~/.cache/spikefold/peer-venvs] [--out bench/results]

snnTorch, Norse and SpikingJelly 2.0 run in the project's environment (as the tests do).  Sinabs
3.1.3 pins nir <= 1.0.4 (which cannot read v_reset) and Rockpool 3.1 is written against the same
NIR and nirtorch 1.0, so both run in one virtual environment this script builds once (torch
2.14.1 from requirements/constraints.txt, nir 1.0.4, nirtorch 1.0, the two peers --no-deps: Sinabs
declares samna, a hardware driver its NIR import does not use).  Each peer also reads the default
(portable) file, which shows which peers the default serves.  Prints a table, writes
nir_peers.md and nir_peers.json.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from tqdm import tqdm

from spikefold.compile.nir_io import write_nir
from spikefold.compile.nir_peers import PEERS, PeerRefused
from spikefold.compile.peer_check import ROOT, check
from spikefold.compile.pipeline import lower
from spikefold.models.config import ModelConfig
from spikefold.models.data import load_dataset
from spikefold.models.config import TrainConfig
from spikefold.models.train import train
from spikefold.models.checkpoint import model_from_checkpoint
from spikefold.common.cli import ArgumentParser, command, positive_int

PINNED = ["nir==1.0.4", "nirtorch==1.0", "h5py", "matplotlib", "scipy", "pbr", "numpy<2", "torch==2.14.1"]
NO_DEPS = ["sinabs==3.1.3", "rockpool==3.1.0"]


def pinned_venv(where: Path) -> str:
    """The interpreter of the NIR-1.0.4 environment for Sinabs and Rockpool, built on first use."""
    py = where / "bin" / "python"
    stamp = where / ".ok"
    if not stamp.exists():
        subprocess.run(["python3.11", "-m", "venv", str(where)], check=True)
        pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run(pip + ["-c", str(ROOT / "requirements" / "constraints.txt"), *PINNED], check=True)
        subprocess.run(pip + ["--no-deps", *NO_DEPS], check=True)
        stamp.touch()
    return str(py)


def rockpool_reads(py: str, path: Path) -> str:
    """What Rockpool's own from_nir says of a file: 'ok' or its error, one line."""
    code = ("import sys, nir; from rockpool.nn.modules import from_nir; "
            "from_nir(nir.read(sys.argv[1])); print('ok')")
    done = subprocess.run([py, "-c", code, str(path)], capture_output=True, text=True)
    if done.returncode == 0:
        return "ok"
    return done.stderr.strip().splitlines()[-1][:160]


def nets(epochs: int, work: Path) -> dict:
    train_ds = load_dataset("digits", None, True, 4)
    calib = [torch.stack([train_ds[i][0] for i in range(128)])]
    out = {}
    for neuron in ("lif", "staa"):
        ckpt = work / f"{neuron}.pt"
        train(ModelConfig(arch="digitnet", neuron=neuron, num_classes=10, in_channels=1, input_size=8,
                          timesteps=4), TrainConfig(dataset="digits", epochs=epochs, seed=0, static_epochs=0), str(ckpt), quiet=True)
        model, _ = model_from_checkpoint(ckpt)
        out[neuron] = lower(model, (1, 8, 8), "none" if neuron == "lif" else "calibrated", calib)
    return out


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive_int, default=6)
    p.add_argument("--venv-dir", default=str(Path.home() / ".cache" / "spikefold" / "peer-venvs"))
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = p.parse_args(argv)
    test = load_dataset("digits", None, False, 4)
    x = torch.stack([test[i][0] for i in range(len(test))])
    pinned = pinned_venv(Path(args.venv_dir) / "nir104")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        graphs = nets(args.epochs, work)
        # Rockpool also gets the v_reset-free Sinabs file, to show what it does past NIR 1.0.4's reader
        jobs = [(net, peer, form) for net in graphs for peer in ("snntorch", "norse", "spikingjelly", "sinabs",
                                                                  "rockpool")
                for form in (peer, "portable") + (("sinabs",) if peer == "rockpool" else ())]
        for net, peer, form in tqdm(jobs, desc="peers"):
            path = work / f"{net}.{form}.nir"
            row = {"net": net, "peer": peer, "form": form}
            try:
                write_nir(graphs[net], path, form=PEERS[form])
            except PeerRefused as e:
                rows.append({**row, "refused": str(e)})
                continue
            if peer == "rockpool":
                rows.append({**row, "peer_says": rockpool_reads(pinned, path)})
                continue
            # the portable file at our dt: Norse's own default is 1e-3
            dt = 1e-4 if (peer, form) == ("norse", "portable") else None
            try:
                r = check(graphs[net], path, peer, x, pinned if peer == "sinabs" else None, dt)
            except RuntimeError as e:
                rows.append({**row, "peer_says": str(e).split(": ", 1)[-1][:160]})
                continue
            rows.append({**row, **{k: v for k, v in r.items() if k not in ("predictions", "agreement")}})
    lines = ["# Our NIR files in each peer's own simulator", "",
             f"Command: `python bench/nir_peers.py --epochs {args.epochs}`. digitnet (T = 4) trained "
             f"{args.epochs} epochs on digits, LIF (exact folds) and STAA (calibrated folds, per-channel "
             f"leaks); {len(x)} digits test inputs, batched. Agreement: fraction of (step, sample, neuron) "
             "positions whose spike equals ours, per LIF layer.", "",
             "| net | peer | file form | spike agreement per layer (%) | same prediction (%) | output max abs diff | "
             "note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "spike_agreement" in r:
            agree = " / ".join(f"{100 * v:.4f}" for v in r["spike_agreement"].values())
            lines.append(f"| {r['net']} | {r['peer']} | {r['form']} | {agree} | {100 * r['same_prediction']:.2f} | "
                         f"{r['output_max_abs_diff']:.2e} | |")
        else:
            note = r.get("refused") and f"export refused: {r['refused']}" or f"peer fails: {r['peer_says']}"
            lines.append(f"| {r['net']} | {r['peer']} | {r['form']} | - | - | - | {note} |")
    md = "\n".join(lines) + "\n"
    print(md)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nir_peers.md").write_text(md)
    (out / "nir_peers.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
