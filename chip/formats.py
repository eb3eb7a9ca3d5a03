"""Loihi's fixed-point number formats as Lava simulates them, with their sources.

The chip's capacities, per-operation energies and times are in chip/hardware.py; the
45 nm reference energies of conventional hardware in chip/horowitz.py.

Bit widths and shifts: Lava lava-nc 0.10.0, `lava/proc/lif/models.py`
(AbstractPyLifModelFixed, PyLifModelBitAcc), `lava/proc/dense/models.py`
(PyDenseModelBitAcc), `lava/proc/conv/models.py` (PyConvModelFixed),
`lava/utils/weightutils.py`; restated in ../shared/DESIGN.md section 5.
"""

# --- Loihi fixed point as simulated by Lava (PyLifModelBitAcc) -------------------------
UV_BITS = 24                  # u and v are 24-bit signed state variables
UV_MAX = 1 << (UV_BITS - 1)   # 2**23: u wraps above it (and at or below -2**23), v saturates at +-(2**23 - 1)
DECAY_SHIFT = 12              # du, dv are 12-bit: decay factor (4096 - d) / 4096
DECAY_UNITY = 1 << DECAY_SHIFT
DU_OFFSET = 1                 # ds_offset: u decays by (4096 - (du + 1)); du = 4095 clears u each step
DV_OFFSET = 0                 # dm_offset
ACT_SHIFT = 6                 # synaptic input a is added to u as a << 6
VTH_SHIFT = 6                 # spike iff v > vth << 6
VTH_MAX = (1 << 17) - 1       # vth: unsigned 17-bit
BIAS_MANT_MIN, BIAS_MANT_MAX = -(1 << 12), (1 << 12) - 1   # bias_mant: signed 13-bit
BIAS_EXP_MAX = 7              # bias_exp: 3-bit, effective bias = bias_mant << bias_exp (v units)
DU_MAX = DV_MAX = 4095
INT32 = 1 << 31               # Lava's u, v arithmetic is int32: sums overflow around +-2**31

# --- synapses ---------------------------------------------------------------------
# The longest synaptic delay a network may ask for, in steps: Loihi's delay field is 6 bits, and
# lava-dl builds its delay axons as Delay(max_delay=62) (lava/lib/dl/slayer/block/cuba.py).  The
# delays spikefold adds itself, to line up a residual join's early input, are not bound by it.
MAX_DELAY = 62
WEIGHT_CLIP_BITS = 8          # Dense: clip_weights(num_bits=8): [0, 255], [-255, 0] or mixed [-256, 255]
NUM_WEIGHT_BITS = 8           # Dense default; mixed-sign weights lose 1 LSB: (w >> 1) << 1
CONV_ACC_BITS = 24            # Conv: the accumulated activation wraps to a signed 24-bit value
WEIGHT_EXP_RANGE = (-8, 7)    # Dense weight_exp (Conv ignores it)
# Sparse (lava/proc/sparse/models.py, PySparseModelBitAcc) computes what Dense computes (same clip,
# truncation and weight_exp) from a CSR matrix: only nonzero weights are stored and visited.
# spikefold's choice, not a published figure: a dense-layer matrix with at most this fraction of
# nonzero weights is deployed as Sparse (SMA's diagonal mixes, identity relays on flat layers);
# fuller ones stay Dense.
SPARSE_MAX_DENSITY = 0.5
