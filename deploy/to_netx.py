"""Write a NIR network as a lava-dl netx HDF5 file (chains of conv/dense layers with CUBA neurons).

    python deploy/to_netx.py model.nir -o model.net

Residual networks (a neuron fed by several synapse layers) cannot be expressed in
netx and are refused, naming the first such layer; nothing is written then.
"""
from __future__ import annotations

import sys
from pathlib import Path

from compile.nir_io import NIRFormatError
from deploy.cli_common import read_nir
from deploy.netx import NetxUnsupported, chain, write_netx
from deploy.quantize import quantize
from spikefold.atomic import atomic_write
from spikefold import validate
from spikefold.cli import ArgumentParser, command, fail, positive_float


@command
def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("nir_file")
    p.add_argument("-o", "--output", default=None, help="netx file (default: beside the NIR file, .net)")
    p.add_argument("--max-mb", type=positive_float, default=validate.MAX_MB,
                   help="refuse a NIR file declaring more MiB of arrays (checked before reading)")
    args = p.parse_args(argv)
    out = Path(args.output) if args.output else Path(args.nir_file).with_suffix(".net")
    validate.outputs([out], [args.nir_file])
    try:
        program = quantize(read_nir(args.nir_file, args.max_mb), netx=True)
        layers = chain(program)
        atomic_write(out, lambda tmp: write_netx(program, tmp))
    except NIRFormatError as e:
        fail(str(e))
    except (NetxUnsupported, ValueError) as e:
        fail(f"{args.nir_file}: {str(e).splitlines()[0]}")
    print(f"wrote {out}: {len(layers)} synapse layers after the host-fed layer "
          f"{program.host.dst} {program.neurons[program.host.dst].shape}, whose spikes are its input")
    return 0


if __name__ == "__main__":
    sys.exit(main())
