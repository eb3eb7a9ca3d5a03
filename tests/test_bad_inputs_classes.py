"""Bad input, round two (issue 29): a sample of every class of bench/bad_input_campaign.py (the
same generators; the bench runs all of them), each case a command run as a user types it, plus
the library guards the classes stand on: output pairs two writers never mix, device outputs,
full disks and an early Ctrl-C.

Each case holds when the command exits 2 (130 for Ctrl-C) with one `error:` line naming its
source, no traceback, and nothing in its directory created or changed."""
import importlib.util
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from spikefold.common import atomic
from spikefold.common.atomic import WriteError, atomic_write_set, text_writer

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bad_input_campaign", ROOT / "bench" / "bad_input_campaign.py")
campaign = sys.modules.setdefault("bad_input_campaign", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(campaign)

# every class, a spread of its cases (the bench runs them all)
SAMPLE = {"arrays": 7, "chip-params": 3, "sizes": 5, "configs": 4, "device-outputs": 3, "full-disk": 3,
          "early-interrupt": 3, "signals": 3, "resumes": 2, "caches": 2, "paths": 2,
          "records": 2, "nir-integers": 2, "valid-inputs": 2, "silent": 4}


@pytest.fixture(scope="module")
def fixtures(lif_ckpt, tmp_path_factory):
    d = tmp_path_factory.mktemp("fixtures")
    (d / "ckpt.pt").write_bytes(Path(lif_ckpt).read_bytes())
    return campaign.make_fixtures(d)


def _cases(klass: str, fx) -> list:
    cases = [c for c in campaign.CLASSES[klass](fx)
             if c.command != "to_lava" or importlib.util.find_spec("lava") is not None]
    step = max(1, len(cases) // SAMPLE[klass])
    return cases[::step][:SAMPLE[klass]]


@pytest.mark.slow
@pytest.mark.parametrize("klass", list(SAMPLE))
def test_every_class_holds_its_promise(fixtures, tmp_path, klass):
    failed = []
    for case in _cases(klass, fixtures):
        held, why = campaign.run_case(case, tmp_path / "case")
        if not held:
            failed.append(f"{case.name}: {why}")
    assert not failed, "\n".join(failed)


def test_two_writers_of_one_pair_never_mix(tmp_path, monkeypatch):
    """Writer a renames its .nir, then, slowed, its .fold.json; writer b writes its whole pair in
    between.  Without the directory lock the pair ends as b's .nir and a's .fold.json."""
    real = os.replace

    def slow(src, dst):
        real(src, dst)
        if str(dst).endswith(".nir") and threading.current_thread().name == "a":
            time.sleep(0.4)                      # between a's two renames
    monkeypatch.setattr(atomic.os, "replace", slow)
    pair = lambda tag: {tmp_path / "m.nir": text_writer(tag), tmp_path / "m.fold.json": text_writer(tag)}
    a = threading.Thread(target=atomic_write_set, args=(pair("a"),), name="a")
    b = threading.Thread(target=atomic_write_set, args=(pair("b"),), name="b")
    a.start()
    time.sleep(0.1)
    b.start()
    a.join()
    b.join()
    assert (tmp_path / "m.nir").read_text() == (tmp_path / "m.fold.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fold.json", "m.nir"]


def test_a_device_or_fifo_is_never_replaced(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(WriteError, match="not a regular file"):
        atomic_write_set({tmp_path / "pipe": text_writer("x")})
    assert (tmp_path / "pipe").is_fifo() and sorted(os.listdir(tmp_path)) == ["pipe"]


def test_a_failed_write_names_the_path_and_leaves_nothing(tmp_path):
    def full(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")
    target = tmp_path / "new" / "deeper" / "r.json"
    with pytest.raises(WriteError, match=r"r\.json: cannot write \(no space left on the device\)"):
        atomic_write_set({tmp_path / "new" / "a.md": text_writer("ok"), target: full})
    assert list(tmp_path.iterdir()) == []        # no temporary, no half-made directory
