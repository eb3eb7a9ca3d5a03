"""Compare two demo runs field by field: report.json (timing fields and paths aside) and the NIR
graphs (every node's arrays and every metadata field).  Exit 1 on any difference.

    python tools/compare_runs.py runs/demo /tmp/before-demo
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

# timing, where the files lie, and the checkpoint's hash (torch.save writes the checkpoint's own path)
IGNORED = {"seconds", "seconds_total", "seconds_to_lower", "seconds_to_measure", "seconds_to_finetune",
           "command", "checkpoint", "folded_graph", "out", "output", "checkpoint_sha256"}


def diff(a, b, path: str = "") -> list[str]:
    if isinstance(a, str) and isinstance(b, str) and a[:1] == b[:1] == "{":      # JSON inside NIR metadata
        a, b = json.loads(a), json.loads(b)
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: only in one" for k in set(a) ^ set(b) if k not in IGNORED]
        return out + [d for k in a.keys() & b.keys() if k not in IGNORED for d in diff(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return [] if np.array_equal(np.asarray(a), np.asarray(b)) else [f"{path}: arrays differ"]
    same = a == b or (isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b))
    return [] if same else [f"{path}: {str(a)[:60]} != {str(b)[:60]}"]


def nir_tree(path: Path) -> dict:
    import nir
    g = nir.read(str(path))
    nodes = {k: {f: getattr(v, f) for f in vars(v)} for k, v in g.nodes.items()}
    meta = {k: v for k, v in (g.metadata or {}).items() if k not in ("source",)}
    return {"nodes": nodes, "edges": sorted(map(tuple, g.edges)), "metadata": meta}


def main(argv=None) -> int:
    a, b = map(Path, (argv or sys.argv[1:])[:2])
    found = diff(json.loads((a / "report" / "report.json").read_text()),
                 json.loads((b / "report" / "report.json").read_text()), "report.json")
    found += diff(nir_tree(a / "ckpt.nir"), nir_tree(b / "ckpt.nir"), "ckpt.nir")
    found += diff(json.loads((a / "ckpt.fold.json").read_text()),
                  json.loads((b / "ckpt.fold.json").read_text()), "ckpt.fold.json")
    for d in found:
        print(d)
    print(f"{len(found)} differences (ignored: {', '.join(sorted(IGNORED))})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
