"""A campaign of bad inputs (issue 29), run against the commands as a careless user or script
would feed them: arrays, chip parameters, sizes, configs and metadata inside files, outputs onto
devices, full disks, an early Ctrl-C, Ctrl-C and SIGTERM while Lava runs or a temporary is open,
damaged dataset caches, resumes with other options, and values once accepted in silence.

    python bench/bad_input_campaign.py [--only CLASS ...] [--work DIR]

Each case runs in a subprocess (`python -m <command> ...`, as a user types it) and holds when:
the exit status is 2 (130 for Ctrl-C, 143 for SIGTERM), stderr is one line `error: ...` naming the file, option or
field given in the case, no traceback, no file appears or changes in the case's directory (its
inputs byte for byte unchanged), for a device output, the device is still a device, and after a
signal the command ends within 10 s with no process of its group left.  A few
cases are accepted runs whose output must state what happened (`stated`).  Prints one line per
failed case and the totals per class; exit status 1 if any case failed.

tests/test_bad_inputs_classes.py runs a sample of every class (the same generators) in the suite.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CMD = {"run": "spikefold.simulate.run", "report": "spikefold.simulate.report", "map": "spikefold.deploy.map",
       "to_nir": "spikefold.compile.to_nir", "to_netx": "spikefold.deploy.to_netx",
       "to_lava": "spikefold.deploy.to_lava", "to_onnx": "spikefold.deploy.to_onnx",
       "count": "spikefold.simulate.count", "train": "spikefold.models.train"}


@dataclass
class Case:
    klass: str
    name: str
    command: str
    argv: list                       # strings; "{w}" is the case's directory
    needle: str                      # must appear in the error line (the source it names)
    status: int = 2
    files: dict = field(default_factory=dict)    # name -> bytes, or a callable(path) making it
    limit_bytes: int | None = None   # RLIMIT_FSIZE for the child (a full disk)
    interrupt_at: str | None = None  # send `signum` once this shared library is mapped ("lava":
                                     # once Lava's runtime has forked its processes; "tmp": once a
                                     # temporary appears in the case's directory)
    signum: int = signal.SIGINT
    to_group: bool = False           # to the whole process group, as a terminal's Ctrl-C does
    stated: str | None = None        # an accepted run: status 0 and this text in stdout
    device: str | None = None        # a name in `files` that must remain a device / FIFO
    env: dict = field(default_factory=dict)      # extra environment ("{w}" is the case's directory)
    stdout_to: str | None = None     # stdout onto this file or device instead of a pipe


# --- fixtures: one good checkpoint, its NIR file and inputs ----------------------------------

def make_fixtures(d: Path) -> dict:
    """{"ckpt": bytes, "nir": bytes, "x": (B, 1, 8, 8) float32}: a plain LIF digitnet, 2 epochs."""
    from spikefold.compile import to_nir
    from spikefold.models.config import ModelConfig, TrainConfig
    from spikefold.models.data import load_dataset
    from spikefold.models.train import train
    d.mkdir(parents=True, exist_ok=True)
    ckpt = d / "ckpt.pt"
    if not ckpt.exists():
        train(ModelConfig(arch="digitnet", neuron="lif", timesteps=4), TrainConfig(epochs=2, seed=0), str(ckpt),
              quiet=True)
    if not (d / "m.nir").exists():
        to_nir.main([str(ckpt), "-o", str(d / "m.nir"), "--eval-samples", "0", "--quiet"])
    cache = d / "cache"                  # digits-dvs's cached splits, as a first run leaves them
    if not list(cache.glob("digits_dvs_*.npz")):
        os.environ["SPIKEFOLD_CACHE"] = str(cache)
        load_dataset("digits-dvs", None, False, 4)
        load_dataset("digits-dvs", None, True, 4)
        del os.environ["SPIKEFOLD_CACHE"]
    ds = load_dataset("digits", None, False, 4)
    x = np.stack([ds[i][0].numpy() for i in range(8)]).astype(np.float32)
    test_split, train_split = (next(cache.glob(f"digits_dvs_{s}_T4_*.npz")) for s in ("test", "train"))
    return {"ckpt": ckpt.read_bytes(), "nir": (d / "m.nir").read_bytes(), "x": x,
            "dvs_cache": (test_split.name, test_split.read_bytes()), "dvs_train": train_split.name}


def npz(**arrays):
    def make(path: Path):
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    return make


def npy(a):
    def make(path: Path):
        with open(path, "wb") as f:
            np.save(f, a, allow_pickle=True)
    return make


def nir_edit(fx, edit):
    """A copy of the good NIR file with edit(graph) applied through the nir API."""
    def make(path: Path):
        import nir
        tmp = path.with_suffix(".src.nir")
        tmp.write_bytes(fx["nir"])
        g = nir.read(tmp)
        tmp.unlink()
        edit(g)
        nir.write(path, g)
    return make


def ckpt_edit(fx, edit):
    def make(path: Path):
        import io
        import torch
        c = torch.load(io.BytesIO(fx["ckpt"]), weights_only=True)
        edit(c)
        torch.save(c, path)
    return make


def _meta(key, value):
    def edit(g):
        m = json.loads(g.metadata["spikefold"])
        m[key] = value
        g.metadata["spikefold"] = json.dumps(m)
    return edit


def _first(g, kind):
    return next(n for n in g.nodes.values() if isinstance(n, kind))


# --- the classes ------------------------------------------------------------------------------

def arrays(fx):
    """Inputs files (.npy / .npz) that are damaged, huge, empty, of the wrong kind or out of range,
    fed to every command that reads them."""
    x = fx["x"]
    huge = bytearray(_npz_bytes(x=x))
    bad_header = bytes(huge).replace(b"(8, 1, 8, 8)", b"(8000000, 1, 8000, 8)")   # declares 2 TB
    crc = bytearray(huge)
    crc[len(crc) // 2] ^= 0xFF
    kinds = {
        "declares-terabytes": (lambda p: p.write_bytes(bad_header), "in.npz"),
        "bad-crc": (lambda p: p.write_bytes(bytes(crc)), "in.npz"),
        "truncated": (lambda p: p.write_bytes(bytes(huge[:len(huge) // 2])), "in.npz"),
        "zero-bytes": (lambda p: p.write_bytes(b""), "in.npz"),
        "random-bytes": (lambda p: p.write_bytes(os.urandom(300)), "in.npy"),
        "object-array": (npy(np.array([{"a": 1}] * 8, dtype=object)), "in.npy"),
        "no-x": (npz(inputs=x), "in.npz"),
        "empty-batch": (npz(x=x[:0]), "in.npz"),
        "zero-width": (npz(x=np.zeros((8, 0, 8, 8), np.float32)), "in.npz"),
        "one-dimensional": (npz(x=np.zeros(8, np.float32)), "in.npz"),
        "strings": (npz(x=np.array([["a"] * 64] * 8)), "in.npz"),
        "complex": (npz(x=x.astype(np.complex64)), "in.npz"),
        "nan": (npz(x=np.where(x > 0.5, np.nan, x)), "in.npz"),
        "inf": (npz(x=np.where(x > 0.5, np.inf, x)), "in.npz"),
        "beyond-float32": (npz(x=x.astype(np.float64) * 1e300), "in.npz"),
        "labels-wrong-length": (npz(x=x, y=np.arange(3)), "in.npz"),
        "labels-negative": (npz(x=x, y=-np.ones(8, np.int64)), "in.npz"),
        "labels-float": (npz(x=x, y=np.ones(8) * 0.5), "in.npz"),
        "wrong-shape": (npz(x=np.zeros((8, 3, 5, 5), np.float32)), "in.npz"),
    }
    for kind, (make, name) in kinds.items():
        for cmd, extra in (("run", []), ("report", ["--samples", "4", "--quiet"]), ("map", []), ("to_lava", [])):
            nir_arg = ["--nir", "{w}/m.nir"] if cmd == "report" else ["{w}/m.nir"]
            yield Case("arrays", f"{kind} -> {cmd}", cmd, [*nir_arg, "--inputs", f"{{w}}/{name}", *extra],
                       name, files={"m.nir": fx["nir"], name: make})


def _npz_bytes(**arrays) -> bytes:
    import io
    b = io.BytesIO()
    np.savez(b, **arrays)
    return b.getvalue()


CAPACITIES = ("cores_per_chip", "neurons_per_core", "synaptic_memory_bits", "input_axons", "output_axons",
              "cores_per_tile", "mesh_tiles_x", "mesh_tiles_y")


def chip_params(fx):
    """--chip-param values no chip has: capacities of 0, fractions, huge; flags other than 0/1;
    negative, NaN and unknown figures."""
    values = {"zero": "0", "fraction": "0.5", "huge": "1e20"}
    for field_name in CAPACITIES:
        for kind, v in values.items():
            for cmd in ("map", "report"):
                argv = ["{w}/m.nir"] if cmd == "map" else ["--nir", "{w}/m.nir", "--samples", "2", "--quiet"]
                yield Case("chip-params", f"{field_name}={kind} -> {cmd}", cmd,
                           [*argv, "--chip-param", f"{field_name}={v}"], field_name, files={"m.nir": fx["nir"]})
    for item, needle in (("share_conv_weights=2", "share_conv_weights"), ("synop_pj=-1", "synop_pj=-1"),
                         ("synop_pj=nan", "synop_pj=nan"), ("bogus=1", "bogus"), ("synop_pj", "synop_pj"),
                         ("loihi3.synop_pj=1", "loihi3")):
        yield Case("chip-params", f"{item} -> map", "map", ["{w}/m.nir", "--chip-param", item], needle,
                   files={"m.nir": fx["nir"]})


def sizes(fx):
    """Sizes the machine or the chip cannot hold, from options, NIR metadata and checkpoint
    configs."""
    files = {"m.nir": fx["nir"], "in.npz": npz(x=fx["x"])}      # static inputs (B, 1, 8, 8)
    for cmd in ("run", "report", "map"):
        base = ["--nir", "{w}/m.nir"] if cmd == "report" else ["{w}/m.nir"]
        yield Case("sizes", f"--timesteps 1e9 -> {cmd}", cmd,
                   [*base, "--inputs", "{w}/in.npz", "--timesteps", "1000000000"], "--timesteps", files=files)
    for cmd in ("run", "report"):
        base = ["--nir", "{w}/m.nir"] if cmd == "report" else ["{w}/m.nir"]
        yield Case("sizes", f"one sample beyond --max-work-mb -> {cmd}", cmd,
                   [*base, "--inputs", "{w}/in.npz", "--timesteps", "70000", "--batch-size", "8"],
                   "--max-work-mb", files=files)
    for key, value in (("timesteps", 10 ** 9), ("timesteps", -3), ("timesteps", 4.5), ("timesteps", "4"),
                       ("dt", 0), ("dt", -1e-3), ("dt", "fast")):
        for cmd in ("run", "to_netx", "map", "to_lava"):
            yield Case("sizes", f"metadata {key}={value!r} -> {cmd}", cmd, ["{w}/bad.nir"], key,
                       files={"bad.nir": nir_edit(fx, _meta(key, value))})
    for key, value in (("timesteps", 10 ** 9), ("timesteps", 4.5), ("input_size", 10 ** 6),
                       ("num_classes", 10 ** 9), ("arch", 3)):
        def edit(c, key=key, value=value):
            c["model_config"][key] = value
        for cmd in ("to_nir", "report"):
            yield Case("sizes", f"model_config {key}={value!r} -> {cmd}", cmd, ["{w}/bad.pt"], key,
                       files={"bad.pt": ckpt_edit(fx, edit)})


def configs(fx):
    """Configs and node values inside files: a train_config that is not a dict or holds the wrong
    type, an unknown dataset named inside a file, a Threshold of 0, a stride or pool kernel of 0, a
    delay no chip holds."""
    import nir

    def tc(value):
        def edit(c):
            c["train_config"] = value
        return edit
    for label, edit, needle in (("train_config list", tc([1, 2]), "train_config"),
                                ("train_config lr string", tc({"lr": "fast"}), "lr"),
                                ("train_config epochs 0", tc({"epochs": 0}), "epochs"),
                                ("train_config dataset bogus", tc({"dataset": "bogus"}), "dataset")):
        for cmd in ("to_nir", "report", "count"):
            yield Case("configs", f"{label} -> {cmd}", cmd, ["--checkpoint"] * (cmd == "count") + ["{w}/bad.pt"], needle,
                       files={"bad.pt": ckpt_edit(fx, edit)})

    def stride0(g):
        _first(g, nir.Conv2d).stride = np.array([0, 0])

    def delay(g):
        a = _first(g, (nir.Affine, nir.Linear))
        name = next(k for k, v in g.nodes.items() if v is a)
        g.nodes["dly"] = nir.Delay(delay=np.full(a.weight.shape[0], 1e6 * 1e-3))
        out = [e for e in g.edges if e[0] == name]
        g.edges = [e for e in g.edges if e[0] != name] + [(name, "dly")] + [("dly", b) for _, b in out]

    for label, edit, needle in (("dataset bogus in metadata", _meta("dataset", "bogus"), "dataset"),
                                ("conv stride 0", stride0, "stride"), ("delay of 1e6 steps", delay, "delay")):
        for cmd in ("run", "to_lava", "to_netx") + (("map",) if needle != "dataset" else ()):  # map reads no data
            yield Case("configs", f"{label} -> {cmd}", cmd, ["{w}/bad.nir"], needle,
                       files={"bad.nir": nir_edit(fx, edit)})


def device_outputs(fx):
    """-o / --json / --out naming a FIFO or a character device: refused, the node left as it was."""
    def fifo(path: Path):
        os.mkfifo(path)

    def chardev(path: Path):
        os.mknod(path, 0o666 | 0o020000, os.makedev(1, 3))    # a copy of /dev/null
    makers = {"fifo": fifo, **({"chardev": chardev} if os.geteuid() == 0 else {})}
    for kind, make in makers.items():
        for cmd, argv in (("to_nir", ["{w}/ckpt.pt", "--eval-samples", "0", "-o", "{w}/dev"]),
                          ("to_netx", ["{w}/m.nir", "-o", "{w}/dev"]),
                          ("map", ["{w}/m.nir", "--json", "{w}/dev"]),
                          ("count", ["--checkpoint", "{w}/ckpt.pt", "--samples", "2", "--json", "{w}/dev"]),
                          ("train", ["--epochs", "1", "-o", "{w}/dev"])):
            yield Case("device-outputs", f"{kind} -> {cmd}", cmd, argv, "dev",
                       files={"ckpt.pt": fx["ckpt"], "m.nir": fx["nir"], "dev": make}, device="dev")
    for cmd, argv, needle in (("to_nir", ["{w}/ckpt.pt", "-o", ""], "-o"), ("to_netx", ["{w}/m.nir", "-o", ""], "-o"),
                              ("map", ["{w}/m.nir", "--json", ""], "''"),
                              ("report", ["{w}/ckpt.pt", "--out", "", "--samples", "2"], "--out"),
                              ("train", ["--epochs", "1", "-o", ""], "''")):
        yield Case("device-outputs", f"empty path -> {cmd}", cmd, argv, needle,
                   files={"ckpt.pt": fx["ckpt"], "m.nir": fx["nir"]})


def full_disk(fx):
    """Writes onto a full disk (RLIMIT_FSIZE: every write past 64 KB fails with EFBIG)."""
    files = {"ckpt.pt": fx["ckpt"], "m.nir": fx["nir"]}
    for cmd, argv in (("to_nir", ["{w}/ckpt.pt", "--eval-samples", "0", "-o", "{w}/out/m.nir"]),
                      ("to_netx", ["{w}/m.nir", "-o", "{w}/out/m.net"]),
                      ("report", ["{w}/ckpt.pt", "--nir", "{w}/m.nir", "--samples", "4", "--out", "{w}/out",
                                  "--quiet"]),
                      ("map", ["{w}/m.nir", "--json", "{w}/out/map.json"]),
                      ("count", ["--checkpoint", "{w}/ckpt.pt", "--samples", "2", "--json", "{w}/out/c.json"]),
                      ("train", ["--epochs", "1", "-o", "{w}/out/c.pt", "--quiet"])):
        yield Case("full-disk", f"EFBIG -> {cmd}", cmd, argv, "out", files=files, limit_bytes=1 << 10)


def early_interrupt(fx):
    """Ctrl-C while the command is still importing its libraries."""
    files = {"ckpt.pt": fx["ckpt"], "m.nir": fx["nir"]}
    for marker in ("_multiarray_umath", "libtorch_cpu", "h5py"):
        for cmd, argv in (("to_nir", ["{w}/ckpt.pt", "-o", "{w}/o.nir"]), ("run", ["{w}/m.nir"]),
                          ("report", ["{w}/ckpt.pt", "--out", "{w}/rep"])):
            yield Case("early-interrupt", f"at {marker} -> {cmd}", cmd, argv, "interrupted", status=130,
                       files=files, interrupt_at=marker)


def signals(fx):
    """Ctrl-C and SIGTERM while a command works: during a Lava run, to the main process alone or to
    its whole process group (as a terminal's Ctrl-C or a `kill -- -PGID` does), and the moment a
    write's temporary appears.  Each must end within 10 s, one line, exit 130 / 143, with none of
    its processes left and no temporary."""
    files = {"ckpt.pt": fx["ckpt"], "m.nir": fx["nir"]}
    kinds = ((signal.SIGINT, "Ctrl-C", "interrupted", 130), (signal.SIGTERM, "SIGTERM", "terminated", 143))
    lava = (("to_lava", ["{w}/m.nir", "--samples", "400", "--quiet"]),
            ("to_lava", ["{w}/m.nir", "--samples", "400", "--quiet", "--stream"]),
            ("to_netx", ["{w}/m.nir", "-o", "{w}/m.net", "--lava", "400"]))
    for (cmd, argv), (signum, name, needle, status), group in (
            (c, k, g) for c in lava for k in kinds for g in (True, False)):
        where = "its process group" if group else "the main process"
        yield Case("signals", f"{name} to {where} while Lava runs -> {cmd} {' '.join(argv[1:])}", cmd, argv,
                   needle, status=status, files=files, interrupt_at="lava", signum=signum, to_group=group)
    for cmd, argv in (("report", ["{w}/ckpt.pt", "--nir", "{w}/m.nir", "--samples", "32", "--out", "{w}/rep"]),
                      ("train", ["--epochs", "1", "--neuron", "lif", "-o", "{w}/c.pt", "--quiet"]),
                      ("to_onnx", ["{w}/ckpt.pt", "-o", "{w}/m.onnx"])):
        for signum, name, needle, status in kinds:
            yield Case("signals", f"{name} as a temporary appears -> {cmd}", cmd, argv, needle, status=status,
                       files=files, interrupt_at="tmp", signum=signum)


def resumes(fx):
    """--resume with options a resume cannot change (the network, the data, the optimiser), a
    checkpoint without the records a resume continues from, and static-phase options no run can use."""
    files = {"ckpt.pt": fx["ckpt"]}
    for flag, value in (("--dataset", "mnist"), ("--timesteps", "8"), ("--arch", "nirnet"), ("--optimizer", "adamw"),
                        ("--neuron", "staa"), ("--lr", "0.5"), ("--batch-size", "7"), ("--loss", "tet")):
        yield Case("resumes", f"resume with {flag} {value}", "train",
                   ["--resume", "{w}/ckpt.pt", flag, value, "--epochs", "9", "-o", "{w}/c.pt"], flag, files=files)
    for record in ("optimizer", "scheduler", "epoch", "metrics"):
        yield Case("resumes", f"resume a checkpoint without {record}", "train",
                   ["--resume", "{w}/bad.pt", "--epochs", "9", "-o", "{w}/c.pt"], record,
                   files={"bad.pt": ckpt_edit(fx, lambda c, r=record: c.pop(r))})
    for flag, value in (("--static-lr", "inf"), ("--static-lr", "1e308"), ("--static-epochs", "1000000000"),
                        ("--epochs", "1e9"), ("--lr", "-1")):
        yield Case("resumes", f"train {flag} {value}", "train", ["--neuron", "staa", flag, value, "-o", "{w}/c.pt"],
                   flag.strip("-").replace("-", "_") if value != "1e9" else flag, files=files)


def caches(fx):
    """Damaged files in the dataset cache ($SPIKEFOLD_CACHE): made again, with a note; a cache that
    cannot be used is named (a directory where the file belongs: refused in one line naming it)."""
    import io
    name, good = fx["dvs_cache"]
    wrong = io.BytesIO()
    np.savez(wrong, frames=np.zeros((450, 3, 2, 8, 8), np.float32), labels=np.zeros(450, np.int64))
    damaged = {"truncated": good[: len(good) // 2], "garbage": b"\x00garbage" * 99, "empty": b"",
               "a pickle": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94.", "another shape": wrong.getvalue()}
    argv = ["--dataset", "digits-dvs", "--epochs", "1", "--neuron", "lif", "--quiet", "-o", "{w}/c.pt"]
    for what, content in damaged.items():
        yield Case("caches", f"cached split {what} -> train", "train", argv, "", status=0, stated="wrote",
                   files={f"cache/{name}": content}, env={"SPIKEFOLD_CACHE": "{w}/cache"})
    yield Case("caches", "cache folder a regular file -> train", "train", argv, "", status=0, stated="wrote",
               files={"cachefile": b"x"}, env={"SPIKEFOLD_CACHE": "{w}/cachefile"})
    yield Case("caches", "a directory where the cached split belongs -> train", "train", argv, fx["dvs_train"],
               files={f"cache/{fx['dvs_train']}": lambda p: p.mkdir(parents=True)}, env={"SPIKEFOLD_CACHE": "{w}/cache"})


def paths(fx):
    """Output names longer than the filesystem takes, and stdout onto a full device."""
    files = {"ckpt.pt": fx["ckpt"], "m.nir": fx["nir"]}
    yield Case("paths", "-o a 300-byte file name -> to_nir", "to_nir", ["{w}/ckpt.pt", "-o", "{w}/" + "a" * 300 + ".nir"],
               "a name of 304 bytes", files=files)
    yield Case("paths", "--out 5,000 bytes deep -> report", "report",
               ["{w}/ckpt.pt", "--out", "{w}/" + "/".join(["d" * 200] * 25)], "a path of", files=files)
    yield Case("paths", "-o 250 bytes, the temporary too long -> to_netx", "to_netx",
               ["{w}/m.nir", "-o", "{w}/" + "n" * 246 + ".net"], "a name of 250 bytes", files=files)
    for cmd, argv in (("run", ["{w}/m.nir", "--samples", "8"]), ("map", ["{w}/m.nir"])):
        yield Case("paths", f"stdout on /dev/full -> {cmd}", cmd, argv, "stdout: cannot write", files=files,
                   stdout_to="/dev/full")
    yield Case("paths", "--out a name of non-UTF-8 bytes -> report (accepted)", "report",    # bytes 0xff 0xfe
               ["{w}/ckpt.pt", "--nir", "{w}/m.nir", "--samples", "8", "--quiet", "--out", "{w}/out\udcff\udcfe"],
               "", status=0, files=files, stated="accuracy:")


def records(fx):
    """Forged records inside a checkpoint: a `static` record (a STAA frozen in training) whose
    figures the report would print, of the wrong type or out of range."""
    forged = (("test_acc", float("nan")), ("test_acc", True), ("test_acc", 1e308), ("test_acc", -50.0),
              ("epoch", -3), ("epoch", 1000), ("epoch", 10 ** 18), ("frozen_test_acc", "abc"),
              ("calibration_samples", -1), ("folds", "none"))
    for key, value in forged:
        def edit(c, key=key, value=value):
            c["static"] = {"epoch": 1, "test_acc": 50.0, "calibration_samples": 8, "folds": [], key: value}
        for cmd in ("report", "to_nir"):
            yield Case("records", f"static.{key} = {value!r} -> {cmd}", cmd, ["{w}/bad.pt"], f"static.{key}",
                       files={"bad.pt": ckpt_edit(fx, edit)})


def nir_integers(fx):
    """NIR fields that must be whole numbers (conv stride, padding, dilation) given fractions,
    and chip figures so large the plots and prices overflow."""
    import nir

    def conv(field_name, value):
        def edit(g):
            setattr(_first(g, nir.Conv2d), field_name, np.array([value, value]))
        return edit
    for field_name, value in (("dilation", 1.5), ("stride", 1.5), ("padding", 0.7)):
        for cmd in ("run", "map"):
            yield Case("nir-integers", f"conv {field_name} {value} -> {cmd}", cmd, ["{w}/bad.nir"], field_name,
                       files={"bad.nir": nir_edit(fx, conv(field_name, value))})
    for item in ("synop_pj=1e308", "static_mw_per_chip=1e308", "synop_ns=1e308"):
        yield Case("nir-integers", f"--chip-param {item} -> report", "report",
                   ["--nir", "{w}/m.nir", "--samples", "2", "--quiet", "--chip-param", item], item.split("=")[0],
                   files={"m.nir": fx["nir"]})


def valid_inputs(fx):
    """Valid graphs that once crashed: run on the chip simulator and on Lava, which must agree."""
    import nir
    rng = np.random.default_rng(3)
    lif = lambda n, th=1.0: nir.LIF(tau=np.full(n, 5e-3), r=np.ones(n), v_leak=np.zeros(n),
                                    v_threshold=np.full(n, th), v_reset=np.zeros(n))

    def graph(nodes):
        names = list(nodes)
        return lambda path: nir.write(path, nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:]))))
    x = npz(x=rng.uniform(0, 4, (3, 70, 6)).astype(np.float32))
    argv = ["{w}/g.nir", "--dt", "1e-3", "--inputs", "{w}/x.npz", "--samples", "3"]
    said = {"run": "predictions", "to_lava": "readout identical on 3/3"}     # Lava and the simulator agree
    for label, delay in (("a Delay of 62 before the readout", np.full(8, 62)),
                         ("per-neuron delays 0..7 before the readout", np.arange(8) % 8)):
        g = graph({"input": nir.Input(np.array([6])), "fc1": nir.Affine(rng.normal(0, 1, (8, 6)), np.zeros(8)),
                   "n1": lif(8), "delay": nir.Delay(delay * 1e-3),
                   "fc2": nir.Affine(rng.normal(0, 1, (3, 8)), np.zeros(3)), "output": nir.Output(np.array([3]))})
        for cmd in said:
            yield Case("valid-inputs", f"{label} -> {cmd}", cmd, argv, "", status=0, files={"g.nir": g, "x.npz": x},
                       stated=said[cmd])
    g = graph({"input": nir.Input(np.array([6])), "n0": lif(6, 0.5), "fc": nir.Affine(rng.normal(0, 1, (3, 6)),
                                                                                    np.zeros(3)),
               "n1": lif(3), "output": nir.Output(np.array([3]))})
    spikes = npz(x=(rng.random((3, 10, 6)) < 0.4).astype(np.float32))
    for cmd in said:
        yield Case("valid-inputs", f"spikes straight into a LIF -> {cmd}", cmd, argv, "", status=0,
                   files={"g.nir": g, "x.npz": spikes}, stated=said[cmd])


def silent(fx):
    """Runs once accepted in silence: now refused, or their result says what happened."""
    x = fx["x"]
    files = {"m.nir": fx["nir"], "seq.npz": npz(x=np.repeat(x[:, None], 4, 1)), "big.npz": npz(x=x * 1e30)}
    yield Case("silent", "--timesteps with a time axis -> run", "run",
               ["{w}/m.nir", "--inputs", "{w}/seq.npz", "--timesteps", "9"], "--timesteps", files=files)
    yield Case("silent", "--timesteps with a time axis -> map", "map",
               ["{w}/m.nir", "--inputs", "{w}/seq.npz", "--timesteps", "9"], "--timesteps", files=files)
    yield Case("silent", "--samples 0 of an empty split -> run", "run", ["{w}/m.nir", "--inputs", "{w}/e.npz"],
               "e.npz", files={**files, "e.npz": npz(x=x[:0])})
    yield Case("silent", "inputs of 1e30 -> run (saturations shown)", "run",
               ["{w}/m.nir", "--inputs", "{w}/big.npz"], "", status=0, files=files,
               stated="input currents saturated")


CLASSES = {"arrays": arrays, "chip-params": chip_params, "sizes": sizes, "configs": configs,
           "device-outputs": device_outputs, "full-disk": full_disk, "early-interrupt": early_interrupt,
           "signals": signals, "resumes": resumes, "caches": caches, "paths": paths, "records": records,
           "nir-integers": nir_integers, "valid-inputs": valid_inputs, "silent": silent}


# --- running a case ---------------------------------------------------------------------------

def _state(d: Path) -> dict:
    out = {}
    for p in sorted(d.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(d))] = (hashlib.sha256(p.read_bytes()).hexdigest()
                                      if p.is_file() and not p.is_symlink() else oct(st.st_mode))
    return out


def _as_from_a_terminal(limit):
    def pre():
        os.setpgid(0, 0)                 # its own process group, as a shell's foreground job
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for t in Path(f"/proc/{pid}/task").iterdir()
                for c in (t / "children").read_text().split()]
    except OSError:
        return []


def _ready(pid: int, marker: str, d: Path) -> bool:
    """Has process `pid` reached `marker` (Case.interrupt_at)?"""
    if marker == "lava":                 # the runtime, its shared-memory manager and the actors
        return len(_children(pid)) >= 3
    if marker == "tmp":
        return any(p.name.startswith(".") and p.is_file() for p in d.rglob(".*"))
    try:
        return marker in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _group_alive(pgid: int) -> list[int]:
    """The live processes of group `pgid` (zombies, already exited and awaiting their reaping by
    init, do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def run_case(case: Case, d: Path, timeout: float = 300) -> tuple[bool, str]:
    """(held, why not): run `case` in directory d (made fresh) and check the promise."""
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for name, content in case.files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        content(d / name) if callable(content) else (d / name).write_bytes(content)
    before = _state(d)
    argv = [a.replace("{w}", str(d)) for a in case.argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore::DeprecationWarning",
           **{k: v.replace("{w}", str(d)) for k, v in case.env.items()}}
    sink = open(case.stdout_to, "w") if case.stdout_to else subprocess.PIPE
    p = subprocess.Popen([sys.executable, "-m", CMD[case.command], *argv], stdout=sink,
                         stderr=subprocess.PIPE, text=True, errors="surrogateescape", cwd=d, env=env,
                         preexec_fn=_as_from_a_terminal(case.limit_bytes))
    sent = None
    if case.interrupt_at:
        t0 = time.time()
        while p.poll() is None and not _ready(p.pid, case.interrupt_at, d) and time.time() - t0 < 120:
            time.sleep(0.002)
        if p.poll() is None:
            os.killpg(p.pid, case.signum) if case.to_group else p.send_signal(case.signum)
            sent, timeout = time.time(), 10
    try:
        out, err = p.communicate(timeout=timeout)
        out = out or ""
        if case.stdout_to:
            sink.close()
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return False, f"ran past {timeout:.0f} s" + (" after the signal" if sent else "")
    if sent is not None:
        time.sleep(0.5)
        left = _group_alive(p.pid)
        if left:
            os.killpg(p.pid, signal.SIGKILL)
            return False, f"{len(left)} processes left behind"
    elif case.interrupt_at:
        return False, f"never reached {case.interrupt_at!r}: exit {p.returncode}"
    lines = [l for l in (ANSI.sub("", l) for l in re.split(r"[\r\n]", err))   # progress bars: not error lines
             if l.strip() and "it/s]" not in l and "%|" not in l]
    if case.stated is not None:
        if p.returncode != 0 or case.stated not in out:
            return False, f"exit {p.returncode}, {case.stated!r} not stated: {(err or out)[-300:]!r}"
        return True, ""
    if p.returncode != case.status:
        return False, f"exit {p.returncode}: {err.strip()[-300:]!r}"
    if len(lines) != 1 or not lines[0].startswith("error: ") or "Traceback" in err:
        return False, f"not one error line: {err.strip()[-300:]!r}"
    if case.needle not in lines[0]:
        return False, f"does not name {case.needle!r}: {lines[0]!r}"
    after = _state(d)
    if "; wrote " in lines[0]:        # an interrupted command names what it had put in place
        for path in lines[0].split("; wrote ")[1].removesuffix(" before it").split(", "):
            after.pop(str(Path(path).relative_to(d)), None)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return False, f"files changed or left behind: {changed[:4]}"
    return True, ""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="*", choices=sorted(CLASSES), default=None)
    p.add_argument("--work", default="/tmp/spikefold-bad-inputs")
    args = p.parse_args(argv)
    work = Path(args.work)
    fx = make_fixtures(work / "fixtures")
    totals, failed = Counter(), []
    for klass, gen in CLASSES.items():
        if args.only and klass not in args.only:
            continue
        for i, case in enumerate(gen(fx)):
            if case.command == "to_lava" and not _has("lava"):
                continue
            held, why = run_case(case, work / "case")
            totals[(klass, held)] += 1
            if not held:
                failed.append(f"{klass}: {case.name}: {why}")
                print(f"FAILED {failed[-1]}", flush=True)
    for klass in CLASSES:
        n = totals[(klass, True)] + totals[(klass, False)]
        if n:
            print(f"{klass:16s} {n:4d} cases, {totals[(klass, True)]:4d} held, {totals[(klass, False)]:3d} failed")
    n, bad = sum(totals.values()), sum(v for (k, h), v in totals.items() if not h)
    print(f"{'total':16s} {n:4d} cases, {n - bad:4d} held, {bad:3d} failed")
    return 1 if bad else 0


def _has(module: str) -> bool:
    from importlib.util import find_spec
    return find_spec(module) is not None


if __name__ == "__main__":
    sys.exit(main())
