"""spikefold.deploy.lava_compat: lava imports on 3.11 without loosening dataclasses elsewhere."""

import dataclasses
import subprocess
import sys

import pytest


from spikefold.deploy.lava_compat import LAVA, LAVA_MISSING

if not LAVA:
    pytest.skip(LAVA_MISSING, allow_module_level=True)

def test_lava_fails_without_the_workaround_and_works_with_it():
    # In a fresh interpreter, so that this process's imports don't hide it.
    plain = subprocess.run([sys.executable, "-c", "import lava.magma.compiler.var_model"],
                           capture_output=True, text=True)
    if sys.version_info >= (3, 11):
        assert plain.returncode != 0 and "mutable default" in plain.stderr
    fixed = subprocess.run(
        [sys.executable, "-c", "import spikefold.deploy.lava_compat, lava.magma.compiler.var_model as m;"
         "assert m.CoreEncoder().x is m.CoreEncoder().x"],  # shared default, as on 3.10
        capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr


def test_dataclass_rule_is_restored_after_import():
    import spikefold.deploy.lava_compat  # noqa: F401
    from lava.magma.compiler.var_model import ByteEncoder

    assert ByteEncoder.__hash__ is None  # still unhashable, as lava defined it
    with pytest.raises(ValueError, match="mutable default"):
        @dataclasses.dataclass
        class Holder:
            x: ByteEncoder = ByteEncoder()


def test_lava_imports_after_a_progress_bar_fixed_the_start_method(tmp_path):
    """tqdm's lock fixes multiprocessing's start method; lava's import then sets it again, which
    raises unless lava_compat accepts the method already in force (train, then run on Lava)."""
    code = ("import multiprocessing as mp\nfrom tqdm import tqdm\nfor _ in tqdm(range(2)): pass\n"
            "assert mp.get_start_method(allow_none=True) == 'fork'\n"
            "{compat}from lava.proc.lif.process import LIF\nprint('imported')\n")
    run = lambda compat: subprocess.run([sys.executable, "-c", code.format(compat=compat)], cwd=tmp_path,
                                        capture_output=True, text=True)
    if sys.version_info < (3, 11):
        assert "context has already been set" in run("").stderr
    fixed = run("import spikefold.deploy.lava_compat\n")
    assert fixed.returncode == 0 and "imported" in fixed.stdout, fixed.stderr[-1500:]
