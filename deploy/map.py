"""Map a NIR graph's deployed program, or a lava-dl netx file's, onto a chip's cores
(chip/placement.py) and print the table.

    python deploy/map.py model.nir [--profile loihi2] [--chip-param NAME=VALUE ...] [--json F]
    python deploy/map.py network.net --profile loihi2          # a lava-dl netx file, as written
"""
from __future__ import annotations

if __name__ == "__main__":  # run as a script: Ctrl-C handled before the heavy imports below
    from spikefold.common.cli import guard_interrupts
    guard_interrupts()

import sys

from spikefold.chip.hardware import PROFILES, WHAT_IFS, Profile, profiles_with_overrides
from spikefold.chip.placement import describe, map_program
from spikefold.compile.nir_io import NIRFormatError
from spikefold.common import validate
from spikefold.common.atomic import write_json
from spikefold.common.cli import ArgumentParser, command, fail
from spikefold.deploy.cli_common import add_nir_args, read_netx_args, read_nir
from spikefold.deploy.samples import fit_inputs, user_inputs
from spikefold.deploy.quantize import quantize_named


def add_profile_args(p) -> None:
    p.add_argument("--profile", choices=sorted({**PROFILES, **WHAT_IFS}), default="loihi",
                   help="chip (chip/hardware.py; loihi2_carryover: Loihi 2 priced with Loihi's figures, a what-if)")
    p.add_argument("--chip-param", action="append", default=[], metavar="NAME=VALUE",
                   help="replace one of the profile's figures (names: chip/hardware.py), e.g. synop_pj=10")


def profile_from_args(args) -> Profile:
    return profiles_with_overrides(args.chip_param, what_ifs=True)[args.profile]


@command
def main(argv=None) -> int:
    p = ArgumentParser(description="Map a NIR graph's deployed program onto a chip's cores.")
    add_nir_args(p, 0, "unused (the mapping needs no samples); accepted as the other commands do")
    add_profile_args(p)
    p.add_argument("--json", default=None, help="also write the mapping as JSON here")
    args = p.parse_args(argv)
    try:
        if args.json is not None:
            validate.outputs([args.json], [args.nir_file, args.inputs])
        profile = profile_from_args(args)
        program = read_netx_args(args) or quantize_named(mapped_graph(args), args.nir_file)
    except (NIRFormatError, ValueError) as e:
        fail(str(e).splitlines()[0])
    m = map_program(program, profile)
    print(describe(m))
    if args.json is not None:
        write_json(args.json, m.summary())
    return 0


def mapped_graph(args):
    """The graph to place: the NIR file read with --dt / --timesteps; with --inputs, fitted to them
    (spike inputs put the first synapse on the chip, as the other commands run it)."""
    if args.inputs is None:
        return read_nir(args.nir_file, args.max_mb, args.dt, args.timesteps)
    x, y = user_inputs(args.inputs, args.max_mb)
    graph, _ = fit_inputs(read_nir(args.nir_file, args.max_mb, args.dt), x, y, args.inputs, args.timesteps)
    return graph


if __name__ == "__main__":
    sys.exit(main())
