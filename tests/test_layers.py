"""The package's layering, read from the source of every library module (tools/import_graph.py):

    spikefold.common   <- models <- compile <- chip <- deploy <- simulate <- spikefold (demo, api)

a package imports only those to its left.  Two named exceptions: the training driver's static
phase uses the compiler's fold (models.train -> compile.freeze), and the two deploy commands that
cross-check an export against the fast simulator (deploy.to_lava, deploy.to_netx) import it."""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["spikefold.common", "spikefold.models", "spikefold.compile", "spikefold.chip", "spikefold.deploy",
         "spikefold.simulate", "spikefold"]
EXCEPTIONS = {("spikefold.models.train", "spikefold.compile.freeze"),
              ("spikefold.deploy.to_lava", "spikefold.simulate.lava_check"),
              ("spikefold.deploy.to_netx", "spikefold.simulate.engine"),
              ("spikefold.deploy.to_netx", "spikefold.simulate.netx_readout")}


def _tool():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_every_module_imports_only_the_layers_below_it():
    tool = _tool()
    mods = tool.modules()
    assert len(mods) > 80 and {"spikefold.chip.program", "spikefold.simulate.engine",
                               "spikefold.deploy.lava_graph", "spikefold.demo"} <= set(mods)
    upward = []
    for (a, b), _ in tool.module_edges().items():
        pa, pb = tool.package_of(a), tool.package_of(b)
        if ORDER.index(pb) > ORDER.index(pa) and (a, b) not in EXCEPTIONS:
            upward.append(f"{a} -> {b}")
    assert not upward, upward


def test_commands_are_imported_by_no_library_module():
    """A command (a module that runs as a script) is a leaf: library modules import the library
    functions it calls, never the command; only the demo drives commands' library functions."""
    tool = _tool()
    mods = tool.modules()
    commands = {m for m, f in mods.items() if 'if __name__ == "__main__"' in f.read_text()}
    assert {"spikefold.models.train", "spikefold.compile.to_nir", "spikefold.simulate.report"} <= commands
    into = [f"{a} -> {b}" for (a, b) in tool.module_edges() if b in commands and tool.package_of(a) != "spikefold"]
    assert not into, into


def test_the_exceptions_are_still_needed():
    """An exception that no longer happens is removed from the list (it would hide a new one)."""
    edges = set(_tool().module_edges())
    assert EXCEPTIONS <= edges, EXCEPTIONS - edges


def test_the_tool_sees_an_upward_import(tmp_path):
    """The check can fail: a chip module importing the simulator is an upward edge."""
    tool = _tool()
    for folder in ("spikefold", "models", "compile", "chip", "deploy", "simulate"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "chip" / "bad.py").write_text("from spikefold.simulate.engine import Simulator\n")
    (tmp_path / "simulate" / "engine.py").write_text("")
    edges = tool.module_edges(tmp_path)
    assert ("spikefold.chip.bad", "spikefold.simulate.engine") in edges


def test_no_library_file_or_function_is_long():
    files, funcs = _tool().sizes()
    assert files[0][0] <= 400, files[:3]
    assert funcs[0][0] <= 80, funcs[:3]
