"""deploy: NIR -> Loihi fixed point -> Lava process graph; its placement on a chip's cores; netx
HDF5 and ONNX exports.

deploy/ owns the chip: the program (program.py, host.py), its number formats (constants.py),
the chips' capacities and costs (hardware.py), the placement (map.py) and the Lava graph
(lava_graph.py).  simulate/ runs, counts and prices that program and imports deploy/, never
the reverse (the one exception: the to_lava.py command compares Lava with the simulator).

Any module here that imports `lava` imports `deploy.lava_compat` first.
"""
