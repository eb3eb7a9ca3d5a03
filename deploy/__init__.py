"""deploy: NIR -> Loihi fixed point -> Lava process graph; netx HDF5 and ONNX exports.

Any module here that imports `lava` imports `deploy.lava_compat` first.
"""
