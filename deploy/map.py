"""Map a NIR graph's deployed program onto a chip's cores (chip/placement.py) and print the table.

    python deploy/map.py model.nir [--profile loihi2] [--chip-param NAME=VALUE ...] [--json F]
"""
from __future__ import annotations

import sys

from spikefold.chip.hardware import PROFILES, Profile, profiles_with_overrides
from spikefold.chip.placement import describe, map_program
from spikefold.compile.nir_io import NIRFormatError
from spikefold.common import validate
from spikefold.common.atomic import write_json
from spikefold.common.cli import ArgumentParser, command, fail, positive_float
from spikefold.deploy.cli_common import read_nir
from spikefold.deploy.quantize import quantize_named


def add_profile_args(p) -> None:
    p.add_argument("--profile", choices=sorted(PROFILES), default="loihi", help="chip (chip/hardware.py)")
    p.add_argument("--chip-param", action="append", default=[], metavar="NAME=VALUE",
                   help="replace one of the profile's figures (names: chip/hardware.py), e.g. synop_pj=10")


def profile_from_args(args) -> Profile:
    return profiles_with_overrides(args.chip_param)[args.profile]


@command
def main(argv=None) -> int:
    p = ArgumentParser(description="Map a NIR graph's deployed program onto a chip's cores.")
    p.add_argument("nir_file")
    add_profile_args(p)
    p.add_argument("--json", default=None, help="also write the mapping as JSON here")
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a NIR file declaring more MiB of arrays (checked before reading)")
    args = p.parse_args(argv)
    try:
        if args.json:
            validate.outputs([args.json], [args.nir_file])
        profile = profile_from_args(args)
        program = quantize_named(read_nir(args.nir_file, args.max_mb), args.nir_file)
    except (NIRFormatError, ValueError) as e:
        fail(str(e).splitlines()[0])
    m = map_program(program, profile)
    print(describe(m))
    if args.json:
        write_json(args.json, m.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
