"""Refresh README.md's "What you get" from a demo run: copy its energy and divergence pictures to
docs/ and print the section's headline table from its report.json.

    make demo && python tools/readme_figures.py [runs/demo]

Paste the printed table into README.md in place of the old one; the pictures are replaced in place.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def headline(r: dict) -> str:
    """The README table: accuracy per network, energy per convention, chip time per profile."""
    a, dyn = r["accuracy"], r.get("dynamic_attention")
    lines = ["| | |", "|---|---|",
             f"| accuracy, {r['samples']} test digits | " + (f"dynamic STAA {dyn['accuracy']:.2f}%, " if dyn else "")
             + f"float {a['float']:.2f}%, folded {a['folded']:.2f}%, chip {a['chip']:.2f}% |"]
    lines += [f"| energy per inference, {v['label']} | {v['pj'] / 1e6:.3g} µJ |" for v in r["energy"].values()]
    for name, m in r["chip_mapping"].items():
        lines.append(f"| {m['label']}: cores, time per inference | {m['cores']} cores on {m['chips']} chip, "
                     f"{m['as_deployed']['time_ns'] / 1e3:.0f} µs as deployed, "
                     f"{m['streamed']['time_ns'] / 1e3:.0f} µs streamed |")
    first = r["divergence"]["first_below_99"]
    lines.append("| where float and chip part ways | " + (f"{first['layer']} ({first['agreement']:.2f}%)" if first
                                                        else "nowhere below 99% spike agreement") + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    run = Path((argv or sys.argv[1:] or ["runs/demo"])[0])
    r = json.loads((run / "report" / "report.json").read_text())
    (ROOT / "docs").mkdir(exist_ok=True)
    for name in ("energy.png", "divergence.png"):
        shutil.copyfile(run / "report" / name, ROOT / "docs" / name)
    print(headline(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
