"""chip: the neuromorphic chip as both runners see it, the Lava process graph (deploy/) and the
fast simulator (simulate/).

    program.py    a quantised network as the chip runs it: integer neurons, synapses, host layer
    formats.py    Loihi's fixed-point number formats as Lava simulates them
    weights.py    Lava's rules for integer synaptic weights
    lif_int.py    one integer LIF step, bit for bit Lava's, each quirk explained
    host.py       the host's share: the first synaptic layer in float, fed as integer currents
    hardware.py   the chips' capacities, energies and times (Loihi, Loihi 2), each with its source
    horowitz.py   45 nm reference energies of conventional hardware (Horowitz 2014)
    tiling.py     the box each layer is cut into under a core's limits
    placement.py  the boxes on cores, tiles and chips, and the spike traffic between them
    counts.py     the chip's operation counts per inference (convention (c)), accumulated
    cost.py       what those counts cost on a placed chip: time, dynamic, static, host energy

It imports spikefold.models and spikefold.compile (the graph a program is quantised from), never
deploy/ or simulate/.
"""
