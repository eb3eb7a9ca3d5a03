"""deploy: a graph onto the chip: NIR -> Loihi fixed point (quantize.py) -> a Lava process graph
run in Lava's bit-accurate simulator (lava_graph.py, to_lava.py); the inputs a program runs on
(samples.py); netx HDF5 and ONNX exports; the placement command (map.py).

The chip itself (the Program, number formats, the integer step, hardware, placement, counts and
cost) is spikefold.chip, which both this package and simulate/ stand on.  deploy/ never imports
simulate/, except the two commands that cross-check an export against the fast simulator
(to_lava.py, to_netx.py); tests/test_layers.py checks it.

Any module here that imports `lava` imports `spikefold.deploy.lava_compat` first.
"""
