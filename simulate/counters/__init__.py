"""counters: what a network costs under the field's conventions, each naming its network.

    network.py   operation counts of the network as built (syops-counter, NeuroBench, ANN)
    energy.py    energy per inference under every convention, the chip's included
    peers.py     the field's own counters run themselves (cross-check only)
    paper.py     the STAA-SNN paper's Table 7, for side-by-side comparison

The chip's own counts and their price are the chip model's (spikefold.chip.counts, .cost).
"""
