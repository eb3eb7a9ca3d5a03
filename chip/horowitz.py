"""Reference energies of conventional digital hardware, picojoules per operation or access.

Source of every figure: M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, Figure 1.1.9 (45 nm, 0.9 V), the table the SNN literature prices
operations with (STAA-SNN's Table 7 uses its 32-bit float MAC and AC).  The chip's own
figures (Loihi, Loihi 2) are in chip/hardware.py, with theirs.
"""

ENERGY_PJ = {
    # 32-bit float: multiply 3.7 + add 0.9 = one MAC; an accumulate (AC) is one add.
    "mac_45nm": 4.6,
    "ac_45nm": 0.9,
    # 8-bit integer: multiply 0.2, add 0.03 (the INT8 ANN baseline: one MAC = 0.23).
    "int8_mult_45nm": 0.2,
    "int8_add_45nm": 0.03,
    # SRAM read of a 64-bit word from an 8 KB array (32 KB: 20 pJ, 1 MB: 100 pJ in the same
    # table).  The memory-aware conventions charge one access per weight, activation or
    # membrane-potential read or write; which array size applies depends on the accelerator,
    # so the report states the figure it used (report.py --sram-pj).
    "sram_8kb_45nm": 10.0,
}
