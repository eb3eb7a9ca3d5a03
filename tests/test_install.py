"""spikefold installs with pip where there is no make: pyproject.toml's dependencies, then the
documented second step for the Lava pair, in a fresh virtual environment (torch from the
constraints file, so nothing can pull another torch); then the four stages and the main commands
import from outside the repository."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pip_install_e_then_the_lava_step_gives_working_imports(tmp_path):
    python = shutil.which("python3.11")
    assert python, "the reference machine has python3.11"
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run = lambda cmd: subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    first = run(pip + ["-c", str(ROOT / "requirements" / "constraints.txt"), "-e", f"{ROOT}[lava]"])
    assert first.returncode == 0, first.stderr[-2000:]
    second = run(pip + ["--no-deps", "--ignore-requires-python", "-r", str(ROOT / "requirements" / "lava.txt")])
    assert second.returncode == 0, second.stderr[-2000:]
    check = run([py, "-c", "import torch, models, compile, deploy, simulate; "
                           "import models.train, compile.to_nir, deploy.to_lava, deploy.to_netx, simulate.report, "
                           "simulate.run; print(torch.__version__.split('+')[0], compile.__file__)"])
    assert check.returncode == 0, check.stderr[-2000:]
    version, where = check.stdout.split()
    assert version == "2.14.1" and Path(where).resolve().is_relative_to(ROOT)
    # a command runs end to end from the installed package: the simulator on a NIR file
    cli = run([py, "-m", "simulate.run", "--help"])
    assert cli.returncode == 0 and "fast chip simulator" in cli.stdout
