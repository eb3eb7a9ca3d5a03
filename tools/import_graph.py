"""Who imports whom inside spikefold, and the largest files and functions.

    python tools/import_graph.py [--modules] [--sizes]

Reads the source with `ast` (nothing is imported).  Prints the package-level import graph
(spikefold.models -> spikefold.common, counted in import statements), with --modules every
module-level edge, with --sizes the longest library files and functions.  tests/test_layers.py
checks the same graph against the layering README.md describes.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# installed name -> folder (pyproject.toml's package-dir)
PACKAGES = {"spikefold": "spikefold", "spikefold.models": "models", "spikefold.compile": "compile", "spikefold.chip": "chip",
            "spikefold.deploy": "deploy", "spikefold.simulate": "simulate"}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every library module: installed dotted name -> file."""
    out = {}
    for pkg, folder in PACKAGES.items():
        for f in sorted((root / folder).rglob("*.py")):
            rel = f.relative_to(root / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if pkg == "spikefold" and parts and parts[0] in {"models", "compile", "chip", "deploy", "simulate"}:
                continue
            out[".".join([pkg, *parts])] = f
    return out


def imports(path: Path, name: str) -> list[str]:
    """The spikefold modules `path` imports (absolute and relative imports, any depth)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_pkg else 0)]
                base = ".".join(anchor + ([base] if base else []))
            out.append(base)
            out += [f"{base}.{a.name}" for a in node.names]
    return [m for m in out if m == "spikefold" or m.startswith("spikefold.")]


def package_of(module: str) -> str:
    """The stage a module belongs to: spikefold.models.data.cifar -> spikefold.models;
    spikefold.common.cli -> spikefold.common; spikefold.demo -> spikefold; the root package and
    its version count as spikefold.common."""
    if module in ("spikefold", "spikefold.version"):    # the root: the version, nothing else
        return "spikefold.common"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in {"models", "compile", "chip", "deploy", "simulate", "common"}:
        return ".".join(parts[:2])
    return "spikefold"


def module_edges(root: Path = ROOT) -> Counter:
    """(importer, imported) -> number of import statements naming it, modules only."""
    mods = modules(root)
    edges = Counter()
    for name, f in mods.items():
        for m in imports(f, name):
            target = m if m in mods else m.rsplit(".", 1)[0]
            if target in mods and target != name:
                edges[name, target] += 1
    return edges


def package_edges(root: Path = ROOT) -> Counter:
    edges = Counter()
    for (a, b), n in module_edges(root).items():
        pa, pb = package_of(a), package_of(b)
        if pa != pb:
            edges[pa, pb] += n
    return edges


def sizes(root: Path = ROOT) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, file) and (lines, file:function) for every library module, longest first."""
    files, funcs = [], []
    for name, f in modules(root).items():
        text = f.read_text()
        files.append((len(text.splitlines()), str(f.relative_to(root))))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append((node.end_lineno - node.lineno + 1,
                              f"{f.relative_to(root)}:{node.name}"))
    return sorted(files, reverse=True), sorted(funcs, reverse=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modules", action="store_true", help="every module-level edge")
    p.add_argument("--sizes", action="store_true", help="the longest files and functions")
    a = p.parse_args(argv)
    print("package import graph (import statements):")
    for (x, y), n in sorted(package_edges().items()):
        print(f"  {x:20s} -> {y:20s} {n:4d}")
    if a.modules:
        print("module import graph:")
        for (x, y), n in sorted(module_edges().items()):
            print(f"  {x} -> {y}")
    if a.sizes:
        files, funcs = sizes()
        print("longest files (lines):")
        for n, f in files[:8]:
            print(f"  {n:5d}  {f}")
        print("longest functions (lines):")
        for n, f in funcs[:8]:
            print(f"  {n:5d}  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
