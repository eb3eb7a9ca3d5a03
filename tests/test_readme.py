"""README.md's "Use it from Python" block runs as written, from a fresh directory, and prints what
the README says it prints (the figures depend on training, so its lines are compared by shape
and the accuracies within a few points)."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_block(heading: str, index: int = 0) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"### {heading}\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return re.findall(r"```(?:python)?\n(.*?)```", section, re.S)[index]


def test_the_python_api_example_runs(tmp_path):
    code, printed = readme_block("Use it from Python", 0), readme_block("Use it from Python", 1)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    got, want = out.stdout.splitlines(), printed.splitlines()
    assert len(got) == len(want) == 4, out.stdout
    assert got[0] == want[0]                                   # the placement: no training noise there
    number = lambda line: [float(v) for v in re.findall(r"\d+\.\d+|\d+", line)]
    assert abs(number(got[1])[0] - number(want[1])[0]) <= 5, (got[1], want[1])
    for a, b in zip(number(got[2]), number(want[2])):
        assert abs(a - b) <= 5, (got[2], want[2])
    assert (tmp_path / "runs" / "api" / "report" / "report.json").exists()
