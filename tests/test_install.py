"""spikefold installs with pip where there is no make: pyproject.toml's dependencies, then the
documented second step for the Lava pair, in a fresh virtual environment (torch from the
constraints file, so nothing can pull another torch); then the four stages and the main commands
import from the installed package, which adds one top-level import name, `spikefold`.

The fresh environment borrows torch and its CUDA wheels from this one (links to them, on the new
path by a .pth file): pip resolves pyproject.toml's dependencies and the constraints against that
torch, installs every other dependency and the Lava pair into the new environment as a user's pip
would, and builds and installs spikefold, without copying 6 GB of torch.
SPIKEFOLD_INSTALL_TEST=full installs torch from scratch too (about a minute and a half more)."""
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pip_install_then_the_lava_step_gives_working_imports(tmp_path):
    python = shutil.which("python3.11")
    assert python, "the reference machine has python3.11"
    venv = tmp_path / "venv"
    try:
        _install_and_check(python, venv, tmp_path)
    finally:  # ~6 GB (torch and its CUDA wheels): never leave it on the disk
        shutil.rmtree(venv, ignore_errors=True)


BORROWED = ("torch", "functorch", "nvidia", "triton")     # torch, torchvision and their CUDA wheels: 6 GB


def _borrow_installed(venv: Path) -> None:
    """Put links to this environment's torch (and torchvision, and the CUDA wheels they pull) on
    `venv`'s path; everything else is installed there by pip."""
    here = Path(sysconfig.get_paths()["purelib"])
    shelf = venv / "borrowed"
    shelf.mkdir()
    for entry in here.iterdir():
        if entry.name.lower().startswith(BORROWED):
            (shelf / entry.name).symlink_to(entry)
    (next((venv / "lib").glob("python3*/site-packages")) / "borrowed.pth").write_text(f"{shelf}\n")


def _install_and_check(python, venv, tmp_path):
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    if os.environ.get("SPIKEFOLD_INSTALL_TEST") != "full":
        _borrow_installed(venv)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run = lambda cmd: subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    first = run(pip + ["-c", str(ROOT / "requirements" / "constraints.txt"), f"{ROOT}[lava]"])
    assert first.returncode == 0, first.stderr[-2000:]
    second = run(pip + ["--no-deps", "--ignore-requires-python", "-r", str(ROOT / "requirements" / "lava.txt")])
    assert second.returncode == 0, second.stderr[-2000:]
    check = run([py, "-c", "import torch, spikefold; "
                           "import spikefold.models.train, spikefold.compile.to_nir, spikefold.deploy.to_lava, "
                           "spikefold.deploy.to_netx, spikefold.simulate.report, spikefold.simulate.run; "
                           "print(torch.__version__.split('+')[0], spikefold.compile.__file__)"])
    assert check.returncode == 0, check.stderr[-2000:]
    version, where = check.stdout.split()
    assert version == "2.14.1" and "site-packages" in where and not Path(where).is_relative_to(ROOT)
    # one installed import name: the stages' folder names are not importable on their own
    for generic in ("models", "compile", "deploy", "simulate"):
        assert run([py, "-c", f"import {generic}"]).returncode != 0, generic
    files = run([py, "-m", "pip", "show", "-f", "spikefold"]).stdout.split("Files:")[1].split()
    top = {Path(f).parts[0] for f in files if not Path(f).parts[0].endswith(".dist-info")
           and Path(f).parts[0] != ".."}
    assert top == {"spikefold"}, top
    # a command runs end to end from the installed package: the simulator on a NIR file
    cli = run([py, "-m", "spikefold.simulate.run", "--help"])
    assert cli.returncode == 0 and "fast chip simulator" in cli.stdout
    script = run([str(venv / "bin" / "spikefold-simulate"), "--help"])
    assert script.returncode == 0 and "fast chip simulator" in script.stdout
