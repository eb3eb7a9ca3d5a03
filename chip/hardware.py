"""The chips spikefold prices a program on, as data: Loihi and Loihi 2, every figure with its unit
and its published source, or marked as an assumption.

A figure no publication gives is still needed to price a network (Loihi 2's per-operation
energies, say).  Such a figure is a `Figure` with `assumed=True` and the assumption written in
`source`; the report lists every assumed figure it used, and `with_overrides` (report.py and
map.py `--chip-param NAME=VALUE`) replaces any figure by the user's own, recorded as theirs.

Sources
    Davies 2018   M. Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip
                  Learning", IEEE Micro 38(1):82-99, 2018.  Capacities: section "Network
                  connectivity architecture", the four mapping constraints (p. 89); energies and
                  times: Table 2, "Loihi pre-silicon performance and energy measurements", value
                  at 0.75 V, from SDF and SPICE simulations "consistent with early post-silicon
                  characterization": minimum energies, maximum times.
    Frady 2020    E. P. Frady et al., "Neuromorphic Nearest-Neighbor Search Using Intel's Pohoiki
                  Springs", NICE 2020: measured static power (Table 1: 3.34 W over a 32-chip board,
                  so 104 mW per chip) and reset energy (Table 2: 0.19 mJ over 32 chips, so
                  5.94 uJ per chip per reset); multi-chip barrier synchronisation (section 4.3).
                  The supply voltage of these measurements is not stated: mixing them with
                  Table 2's 0.75 V figures is a known composition risk, named in the report.
    Intel 2021    Intel Labs, "Taking Neuromorphic Computing to the Next Level with Loihi 2",
                  technology brief, 2021: 128 neuron cores, up to 1 M neurons and 120 M synapses
                  per chip (so 8,192 neurons per core), 192 KB of flexibly allocated memory per
                  core, weights of 1 to 8 bits, Intel 4 process, 31 mm^2; no per-operation
                  energy or time, no static power.
    Orchard 2021  G. Orchard et al., "Efficient Neuromorphic Signal Processing with Loihi 2",
                  IEEE SiPS 2021: architecture and workload measurements, again no per-operation
                  figures.  Shrestha et al. 2023 ("Efficient Video and Audio Processing with
                  Loihi 2", ICASSP 2024) report whole-workload power and latency, not
                  per-operation figures either.
    Intel 2023    lava-dl's PilotNet LIF benchmark on one Loihi 2 (Oheo Gulch board), the saved
                  outputs of `tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb` (lava-dl
                  commit b9e369172b46, 2023-01-10; runs 76c8fbb63ac9 and baa23ad80f71 give the
                  spread): measured 152.85 us per step, 0.232 W static (idle) and 0.447 W dynamic,
                  1.094 mJ dynamic energy per inference, and the compiler's per-core placement
                  (74 cores; SynMem limit 12,000 per core).  simulate/silicon.py holds these figures.
    Hala Point    Intel and Sandia, April 2024: 1,152 Loihi 2 chips, 140,544 cores, > 380e12
                  synaptic ops/s and > 240e12 neuron ops/s, at most 2,600 W (claimed).

Fitted figures.  No per-operation figure for Loihi 2 is published, so the `loihi2` profile's
per-operation times and energies and its placement limits are fitted on Intel 2023: spikefold
runs the very network Intel ran (simulate/silicon.py), and one factor scales the Loihi 2 brief's
speed-ups over Davies 2018's times to Intel's time per step, one factor scales Davies 2018's
energies to Intel's dynamic energy per inference, and the limits are those at which
chip/placement.py cuts that network as Intel's compiler did.  A fitted Figure names the
measurement in `fitted`; bench/loihi2_silicon.py recomputes every fit and sets it beside Intel's
figures, and tests/chip/test_loihi2_profile.py guards it.  A fit on one network is a fit on one
workload: the report gives the span the other sources allow (`LOIHI2_SPANS`).  Loihi's figures
carried over, the profile before the fit, stay as the what-if `loihi2_carryover` (WHAT_IFS),
not a report column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str
    source: str
    assumed: bool = False
    fitted: str = ""          # the measurement it was fitted on ("" if read off a source)

    @property
    def kind(self) -> str:
        """How the figure was obtained: "fitted", "assumed" or "published"."""
        return "fitted" if self.fitted else "assumed" if self.assumed else "published"


@dataclass(frozen=True)
class Profile:
    """One chip.  Per-core limits, the mesh, per-operation energies (pJ) and times (ns), static
    power; each field a Figure."""
    name: str
    label: str
    cores_per_chip: Figure
    neurons_per_core: Figure
    synaptic_memory_bits: Figure      # per core, for weights stored in a dense format
    input_axons: Figure               # distinct source neurons (axons) feeding one core
    output_axons: Figure              # core-to-core fan-out edges leaving one core
    share_conv_weights: Figure        # 1: a conv layer's kernel is stored once per core
    cores_per_tile: Figure
    mesh_tiles_x: Figure              # tiles per chip, east-west
    mesh_tiles_y: Figure              # tiles per chip, north-south
    synop_pj: Figure
    synop_ns: Figure
    update_active_pj: Figure
    update_inactive_pj: Figure
    update_active_ns: Figure
    update_inactive_ns: Figure
    spike_in_tile_pj: Figure
    spike_in_tile_ns: Figure
    hop_ew_pj: Figure
    hop_ns_pj: Figure
    hop_ew_ns: Figure
    hop_ns_ns: Figure
    barrier_1_tile_ns: Figure
    barrier_32_tiles_ns: Figure
    barrier_256_chips_ns: Figure
    static_mw_per_chip: Figure
    reset_uj_per_chip: Figure
    host_write_pj: Figure             # one host write to a neuron register (bias switching)
    # what SANA-FE's calibrated Loihi file adds (Davies 2018's profile sets them to its one figure or 0)
    synop_conv_pj: Figure             # a synaptic event of a conv layer (synop_pj: dense)
    synop_conv_ns: Figure
    synop_sparse_pj: Figure           # a synaptic event of a sparse layer
    synop_sparse_ns: Figure
    spike_out_pj: Figure              # per spike a neuron fires, at its core
    spike_out_ns: Figure
    message_out_ns: Figure            # per spike message, serially at the sending core
    message_in_ns: Figure             # per spike message, serially at the receiving core
    barrier_2_tiles_ns: Figure        # barrier at 2, 4 and 29 tiles: points between 1 and 32 tiles
    barrier_4_tiles_ns: Figure
    barrier_29_tiles_ns: Figure
    barrier_steps: Figure             # 1: barrier = the point at or below the tile count (a table);
                                      # 0: linear between the points
    core_overlap: Figure              # 1: a core's step is the larger of its neuron and its synaptic
                                      # work (they overlap); 0: their sum
    model: str = ""                   # which model of the chip the figures are (the report's column)

    def figures(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, Figure)}

    def __getitem__(self, key: str) -> float:
        return getattr(self, key).value

    def assumptions(self) -> dict:
        return {k: f for k, f in self.figures().items() if f.assumed}

    def fits(self) -> dict:
        return {k: f for k, f in self.figures().items() if f.fitted}

    def with_overrides(self, overrides: dict) -> "Profile":
        """A copy with figures replaced by {name: value}; each marked as the user's."""
        changes = {}
        for key, value in overrides.items():
            if key not in self.figures():
                raise ValueError(f"unknown chip figure {key!r}; choose from {', '.join(self.figures())}")
            f = getattr(self, key)
            _check_range(key, f.unit, float(value))
            changes[key] = Figure(float(value), f.unit, f"set by the user (--chip-param {key}={value})", True)
        return replace(self, **changes)


COUNT_UNITS = ("cores", "compartments", "neurons", "bits", "axons", "edges", "tiles")
MAX_COUNT = 2 ** 31 - 1        # a capacity a placement can index (int32)


PHYSICAL_MAX = {"pJ": 1e12, "ns": 1e12, "mW": 1e9, "uJ": 1e9}   # 1 J or 1,000 s an operation, 1 MW a chip


def _check_range(key: str, unit: str, value: float) -> None:
    """A capacity is a whole number >= 1 (a chip with 0 cores per tile divides by zero); a flag
    is 0 or 1; an energy, time or power is finite, >= 0 (parse_overrides) and <= PHYSICAL_MAX."""
    if value > PHYSICAL_MAX.get(unit, math.inf):   # pass PHYSICAL_MAX and totals overflow
        raise ValueError(f"--chip-param {key}={value:g}: at most {PHYSICAL_MAX[unit]:g} {unit}")
    if unit in COUNT_UNITS and not (value == int(value) and 1 <= value <= MAX_COUNT):
        raise ValueError(f"--chip-param {key}={value:g}: a capacity ({unit}) must be a whole number in [1, {MAX_COUNT:,}]")
    if unit == "bool" and value not in (0, 1):
        raise ValueError(f"--chip-param {key}={value:g}: must be 0 or 1")


D18 = "Davies 2018"
T2 = f"{D18}, Table 2 (0.75 V, pre-silicon)"
F20 = "Frady 2020"
INTEL21 = "Intel 2021 Loihi 2 brief"

LOIHI = Profile(
    name="loihi", label="Loihi (Intel, 14 nm, 2018)",
    cores_per_chip=Figure(128, "cores", f"{D18}, p. 86"),
    neurons_per_core=Figure(1024, "compartments", f"{D18}, p. 89, constraint 1"),
    synaptic_memory_bits=Figure(128 * 1024 * 8, "bits", f"{D18}, p. 89, constraint 2 (128 KB)"),
    input_axons=Figure(4096, "axons", f"{D18}, p. 89, constraint 4 (Naxin)"),
    output_axons=Figure(4096, "edges", f"{D18}, p. 89, constraint 3 (Naxout)"),
    share_conv_weights=Figure(0, "bool", "assumed: each synapse stored per target neuron (the "
                              "mapping constraints count synapses per core; no shared-kernel "
                              "format is described in Davies 2018)", True),
    cores_per_tile=Figure(4, "cores", "inferred: 128 cores, and Table 2's barrier figure spans "
                          "1-32 tiles", True),
    mesh_tiles_x=Figure(8, "tiles", "assumed: 32 tiles as 8 x 4 (the mesh's aspect is not published)", True),
    mesh_tiles_y=Figure(4, "tiles", "assumed: 32 tiles as 8 x 4", True),
    synop_pj=Figure(23.6, "pJ", f"{T2}, energy per synaptic spike op (min)"),
    synop_ns=Figure(3.5, "ns", f"{T2}, time per synaptic spike op (max)"),
    update_active_pj=Figure(81.0, "pJ", f"{T2}, energy per neuron update (active)"),
    update_inactive_pj=Figure(52.0, "pJ", f"{T2}, energy per neuron update (inactive)"),
    update_active_ns=Figure(8.4, "ns", f"{T2}, time per neuron update (active)"),
    update_inactive_ns=Figure(5.3, "ns", f"{T2}, time per neuron update (inactive)"),
    spike_in_tile_pj=Figure(1.7, "pJ", f"{T2}, within-tile spike energy"),
    spike_in_tile_ns=Figure(2.1, "ns", f"{T2}, within-tile spike latency"),
    hop_ew_pj=Figure(3.0, "pJ", f"{T2}, energy per tile hop (E-W)"),
    hop_ns_pj=Figure(4.0, "pJ", f"{T2}, energy per tile hop (N-S)"),
    hop_ew_ns=Figure(4.1, "ns", f"{T2}, latency per tile hop (E-W)"),
    hop_ns_ns=Figure(6.5, "ns", f"{T2}, latency per tile hop (N-S)"),
    barrier_1_tile_ns=Figure(113, "ns", f"{T2}, mesh-wide barrier sync time, 1 tile"),
    barrier_32_tiles_ns=Figure(465, "ns", f"{T2}, mesh-wide barrier sync time, 32 tiles"),
    barrier_256_chips_ns=Figure(14300, "ns", f"{F20}, section 4.3, measured, 4 x 64 chips"),
    static_mw_per_chip=Figure(104.4, "mW", f"{F20}, Table 1: 3.34 W static over 32 chips, measured "
                              f"(voltage not stated)"),
    reset_uj_per_chip=Figure(5.94, "uJ", f"{F20}, Table 2: 0.19 mJ reset over 32 chips, measured"),
    host_write_pj=Figure(0.0, "pJ", "assumed 0: no published energy for a host write to a "
                         "neuron register; the writes are counted and shown", True),
    synop_conv_pj=Figure(23.6, "pJ", f"{T2}: one figure for every synaptic spike op"),
    synop_conv_ns=Figure(3.5, "ns", f"{T2}: one figure for every synaptic spike op"),
    synop_sparse_pj=Figure(23.6, "pJ", f"{T2}: one figure for every synaptic spike op"),
    synop_sparse_ns=Figure(3.5, "ns", f"{T2}: one figure for every synaptic spike op"),
    spike_out_pj=Figure(0.0, "pJ", f"{T2} gives no per-spike cost at the firing core: 0"),
    spike_out_ns=Figure(0.0, "ns", f"{T2} gives no per-spike cost at the firing core: 0"),
    message_out_ns=Figure(0.0, "ns", f"{T2}: its within-tile spike latency is charged once per "
                          "step's longest route (spike_in_tile_ns), not per message: 0"),
    message_in_ns=Figure(0.0, "ns", f"{T2}: no per-message receive latency: 0"),
    barrier_2_tiles_ns=Figure(113 + 352 / 31, "ns", f"{T2}: 113 ns at 1 tile to 465 ns at 32, linear "
                              "between them (an assumption)", True),
    barrier_4_tiles_ns=Figure(113 + 352 * 3 / 31, "ns", f"{T2}: linear between 1 and 32 tiles", True),
    barrier_29_tiles_ns=Figure(113 + 352 * 28 / 31, "ns", f"{T2}: linear between 1 and 32 tiles", True),
    barrier_steps=Figure(0, "bool", "0: linear between Table 2's two points (an assumption)", True),
    core_overlap=Figure(0, "bool", "0: a core's synaptic and neuron work add (spikefold's rule, "
                        "the conservative choice; Davies 2018 does not say)", True),
    model="Davies 2018 Table 2 (pre-silicon)",
)

_L2 = "assumed: Loihi's figure carried over; no per-operation figure for Loihi 2 is published"
LOIHI2_CARRYOVER = replace(
    LOIHI, name="loihi2_carryover", label="Loihi 2, Loihi's figures carried over (what-if)",
    cores_per_chip=Figure(128, "cores", f"{INTEL21}"),
    neurons_per_core=Figure(8192, "neurons", f"{INTEL21}: 1 M neurons over 128 cores"),
    synaptic_memory_bits=Figure(192 * 1024 * 8, "bits", f"{INTEL21}: 192 KB per core, shared "
                                "flexibly by synapses and neuron state; all of it counted for "
                                "synapses here (an upper bound)", True),
    input_axons=Figure(4096, "axons", _L2.replace("per-operation figure", "axon limit"), True),
    output_axons=Figure(4096, "edges", _L2.replace("per-operation figure", "axon limit"), True),
    share_conv_weights=Figure(1, "bool", f"{INTEL21}: convolutional synapse compression; one "
                              "kernel per core assumed", True),
    cores_per_tile=Figure(4, "cores", _L2.replace("per-operation figure", "mesh layout"), True),
    mesh_tiles_x=Figure(8, "tiles", _L2.replace("per-operation figure", "mesh layout"), True),
    mesh_tiles_y=Figure(4, "tiles", _L2.replace("per-operation figure", "mesh layout"), True),
    **{k: Figure(getattr(LOIHI, k).value, getattr(LOIHI, k).unit, _L2, True)
       for k in ("synop_pj", "synop_ns", "update_active_pj", "update_inactive_pj", "update_active_ns",
                 "update_inactive_ns", "spike_in_tile_pj", "spike_in_tile_ns", "hop_ew_pj", "hop_ns_pj",
                 "hop_ew_ns", "hop_ns_ns", "barrier_1_tile_ns", "barrier_32_tiles_ns",
                 "barrier_256_chips_ns", "reset_uj_per_chip", "synop_conv_pj", "synop_conv_ns",
                 "synop_sparse_pj", "synop_sparse_ns", "spike_out_pj", "spike_out_ns", "message_out_ns",
                 "message_in_ns", "barrier_2_tiles_ns", "barrier_4_tiles_ns", "barrier_29_tiles_ns")},
    static_mw_per_chip=Figure(104.4 * 31 / 60, "mW", "assumed: Loihi's measured 104.4 mW per chip "
                              "scaled by die area (31 / 60 mm^2); no Loihi 2 static power is published",
                              True),
    model="Loihi's Davies 2018 figures carried over (assumed)",
)


I23 = "Intel 2023 PilotNet LIF on one Loihi 2"
_FIT = f"{I23}: bench/loihi2_silicon.py"
_T_FIT = 1.678     # the scale on the cores' per-op times (route and barrier not scaled) that puts spikefold's step
                   # on Intel's 152.85 us: simulate/silicon.py fits it (not the plain ratio 152.85 / 91.2 = 1.676)
_E_FIT = 0.8214    # Intel's 1.0935 mJ dynamic per inference / spikefold's at Table 2's energies (1.3313 mJ)
_TIME = (f"fitted: Davies 2018 Table 2's time over the Loihi 2 brief's speed-up ({{}}x), times {_T_FIT} so "
         f"that spikefold's step on Intel's PilotNet LIF run is Intel's measured 152.85 us")
_ENERGY = (f"fitted: Davies 2018 Table 2's energy times {_E_FIT}, so that spikefold's counts of Intel's "
           f"PilotNet LIF run (48.3 M synaptic events, 2.54 M neuron updates per inference) cost Intel's "
           f"measured 1.094 mJ dynamic per inference (all of the power above idle, SRAM and clocks included)")
_PLACE = "fitted so that chip/placement.py cuts Intel's PilotNet LIF as Intel's compiler did ({})"


def _fit(value, unit, text, fitted=_FIT):
    return Figure(round(value, 4), unit, text, False, fitted)


LOIHI2 = replace(
    LOIHI2_CARRYOVER, name="loihi2", label="Loihi 2 (Intel 4; fitted to Intel's PilotNet LIF run)",
    neurons_per_core=_fit(2700, "neurons", _PLACE.format(
        "13, 25, 13, 3, 3, 2, 12, 1, 1, 1 cores; spikefold 15, 30, 10, 3, 3, 2, 12, 1, 1, 1). Not the hardware's "
        "maximum (8,192 by Intel 2021, and Intel's compiler put 3,168 in one core): the most neurons a core "
        "takes in spikefold's one-box-per-layer cut for the compiler's per-layer choices to come out; "
        "2,700 to 2,815 give the same cut")),
    synaptic_memory_bits=_fit(12000 * 18, "bits", _PLACE.format(
        "the 2560->100 dense layer over 12 cores): Intel's compiler's SynMem limit of 12,000 words per core, "
        "at 18 bits a word in spikefold's dense format (rows x inputs x weight bits); the word's width is "
        "not published, and 17.3 to 19.2 bits give the same cut. Intel's table stores conv kernels about 4x more "
        "densely than dense rows (64-bit words: 12.8 five-bit conv weights a word, 2.8 dense weights), which one "
        "budget cannot express: a conv kernel of wide weights (say 64 x 32 x 3 x 3 at 9 bits or more) is cut "
        "finer here than Intel's compiler would cut it")),
    input_axons=_fit(16384, "axons", _PLACE.format(
        "conv2 and conv3 no finer than Intel's 13 and 3 cores): Intel's compiler counts a conv core's input "
        "as 1 or 2 axons, spikefold as channels x receptive rows x columns, which reaches 9,180 in conv3; "
        "any limit from 9,180 up gives the same cut")),
    output_axons=_fit(16384, "edges", _PLACE.format(
        "conv5 over 2 cores, as its 2,560 neurons each reach all 12 cores of the next layer): 15,360 to "
        "30,719 give the same cut")),
    share_conv_weights=Figure(1, "bool", f"{I23}: the compiler's table stores each conv core's whole kernel "
                              "once (81 words for conv1's 648 weights on each of its 25 cores)"),
    cores_per_tile=Figure(4, "cores", "assumed: four cores a router, as third parties cite Timcheck et al. "
                          "2026 (arXiv 2601.10035, Sec. II; not read here)", True),
    mesh_tiles_x=Figure(8, "tiles", "assumed: 8 x 4 routers for 128 cores, as third parties cite Timcheck et "
                        "al. 2026 (Sec. VI; not read here)", True),
    mesh_tiles_y=Figure(4, "tiles", "assumed: 8 x 4 routers, as cited from Timcheck et al. 2026", True),
    synop_ns=_fit(LOIHI["synop_ns"] / 5 * _T_FIT, "ns", _TIME.format(5)),
    synop_conv_ns=_fit(LOIHI["synop_ns"] / 5 * _T_FIT, "ns", _TIME.format(5)),
    synop_sparse_ns=_fit(LOIHI["synop_ns"] / 5 * _T_FIT, "ns", _TIME.format(5)),
    update_active_ns=_fit(LOIHI["update_active_ns"] / 2 * _T_FIT, "ns", _TIME.format(2)),
    update_inactive_ns=_fit(LOIHI["update_inactive_ns"] / 2 * _T_FIT, "ns", _TIME.format(2)),
    **{k: _fit(LOIHI[k] * _E_FIT, "pJ", _ENERGY) for k in (
        "synop_pj", "synop_conv_pj", "synop_sparse_pj", "update_active_pj", "update_inactive_pj",
        "spike_in_tile_pj", "hop_ew_pj", "hop_ns_pj")},
    static_mw_per_chip=Figure(232.078, "mW", f"{I23}: measured idle power of the chip's rails (VDD, VDD-M, "
                              "VDD-IO), run b9e369172b46; two earlier runs measured 178.1 and 309.4 mW"),
    model="fitted to Intel's PilotNet LIF measurement on one Loihi 2 (time, dynamic energy, placement)",
)
# where Loihi 2's sources disagree, what each figure could be (simulate/silicon.py derives them): static
#   power: Intel's three measured PilotNet LIF runs;
#   a synaptic op's energy: Hala Point's ceiling (2,600 W / 380e12 synaptic ops/s, everything in the box
#       charged to synaptic ops) to all of Intel's PilotNet LIF dynamic energy charged to synaptic ops
#       (1.094 mJ / 48.3 M events: neuron updates free);
#   the per-operation times: Hala Point's throughput per core (0.37 ns a synaptic op, 0.59 ns a neuron
#       update) to Davies 2018 Table 2's (3.5 ns; 8.4 and 5.3 ns)
LOIHI2_STATIC_MW_RANGE = (178.059, 309.377)
LOIHI2_SPANS = {
    "static_mw_per_chip": LOIHI2_STATIC_MW_RANGE,
    **{k: (2600 / 380e12 * 1e12, 1.093544e9 / 48_267_067) for k in ("synop_pj", "synop_conv_pj", "synop_sparse_pj")},
    **{k: (140_544 / 380e12 * 1e9, LOIHI["synop_ns"]) for k in ("synop_ns", "synop_conv_ns", "synop_sparse_ns")},
    **{k: (140_544 / 240e12 * 1e9, LOIHI[k]) for k in ("update_active_ns", "update_inactive_ns")},
}
LOIHI2_SPAN_SOURCES = {
    "static_mw_per_chip": "Intel's three measured PilotNet LIF runs",
    "synop_pj": "two ceilings, not a measured range: Hala Point's all-in 6.8 pJ to all of Intel's PilotNet LIF "
                "dynamic energy charged to synaptic ops",
    "synop_ns": "Hala Point's throughput per core to Davies 2018 Table 2",
}

_SF = "SANA-FE 2.2.9, sanafe/examples/loihi.yaml"
_SFP = "its authors' fit to Loihi measurements (Boyle 2025; Boyle 2023)"
LOIHI_SANAFE = replace(
    LOIHI, name="loihi_sanafe", label="Loihi, silicon-calibrated (Intel, 14 nm, 2018; SANA-FE's constants)",
    model="silicon-calibrated (SANA-FE's constants and time rule, cited)",
    synop_pj=Figure(35.5, "pJ", f"{_SF}, loihi_dense_synapse energy_process_spike, {_SFP}"),
    synop_ns=Figure(3.8, "ns", f"{_SF}, loihi_dense_synapse latency_process_spike"),
    synop_conv_pj=Figure(24.0, "pJ", f"{_SF}, loihi_conv_synapse energy_process_spike"),
    synop_conv_ns=Figure(3.1, "ns", f"{_SF}, loihi_conv_synapse latency_process_spike"),
    synop_sparse_pj=Figure(33.6, "pJ", f"{_SF}, loihi_sparse_synapse energy_process_spike"),
    synop_sparse_ns=Figure(4.7, "ns", f"{_SF}, loihi_sparse_synapse latency_process_spike"),
    update_inactive_pj=Figure(51.2, "pJ", f"{_SF}, loihi_lif energy_access_neuron (every neuron, every step)"),
    update_active_pj=Figure(51.2 + 21.6, "pJ", f"{_SF}, loihi_lif energy_access_neuron + energy_update_neuron"),
    update_inactive_ns=Figure(6.0, "ns", f"{_SF}, loihi_lif latency_access_neuron"),
    update_active_ns=Figure(6.0 + 3.7, "ns", f"{_SF}, loihi_lif latency_access_neuron + latency_update_neuron"),
    spike_out_pj=Figure(69.3, "pJ", f"{_SF}, loihi_lif energy_spike_out"),
    spike_out_ns=Figure(30.0, "ns", f"{_SF}, loihi_lif latency_spike_out"),
    spike_in_tile_pj=Figure(111.0, "pJ", f"{_SF}, loihi_out energy_message_out (per message)"),
    spike_in_tile_ns=Figure(0.0, "ns", f"{_SF}: no per-route constant (messages pay hop latencies and the "
                            "per-message times below)"),
    message_out_ns=Figure(5.1, "ns", f"{_SF}, loihi_out latency_message_out"),
    message_in_ns=Figure(16.0, "ns", f"{_SF}, loihi_in latency_message_in"),
    hop_ns_pj=Figure(4.2, "pJ", f"{_SF}, energy_north_hop / energy_south_hop"),
    barrier_1_tile_ns=Figure(600, "ns", f"{_SF}, latency_sync table, 1 tile"),
    barrier_2_tiles_ns=Figure(1000, "ns", f"{_SF}, latency_sync table, 2 tiles"),
    barrier_4_tiles_ns=Figure(1400, "ns", f"{_SF}, latency_sync table, 4 tiles"),
    barrier_29_tiles_ns=Figure(1800, "ns", f"{_SF}, latency_sync table, 29 tiles"),
    barrier_32_tiles_ns=Figure(1800, "ns", f"{_SF}, latency_sync table: 29 tiles and more"),
    barrier_steps=Figure(1, "bool", f"{_SF}: sync_model table, the entry at or below the mapped tiles"),
    core_overlap=Figure(1, "bool", "SANA-FE's detailed timing model (Boyle 2025, validated against Loihi "
                        "latency within 25 %): a core processes incoming spike messages while its neurons "
                        "update, so its step is the larger of the two; bench/sanafe_check.py measures it"),
)

PROFILES = {p.name: p for p in (LOIHI, LOIHI_SANAFE, LOIHI2)}
# named what-ifs: placed and priced on request (deploy/map.py --profile, simulate/silicon.py), not report columns
WHAT_IFS = {p.name: p for p in (LOIHI2_CARRYOVER,)}


def parse_overrides(items: list[str]) -> dict:
    """["synop_pj=10", ...] -> {"synop_pj": 10.0}; a malformed item raises ValueError."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or not key.strip() or not math.isfinite(number) or number < 0:
            raise ValueError(f"--chip-param takes NAME=VALUE with a finite number >= 0 (got {item!r})")
        out[key.strip()] = number
    return out


def profiles_with_overrides(items: list[str], what_ifs: bool = False) -> dict:
    """Every profile (and with what_ifs the named what-ifs), with --chip-param items applied:
    NAME=VALUE to all, PROFILE.NAME=VALUE to one."""
    out = {}
    parsed = parse_overrides(items)
    known = {**PROFILES, **WHAT_IFS}
    for name, profile in (known if what_ifs else PROFILES).items():
        mine = {}
        for key, value in parsed.items():
            target, dot, field = key.rpartition(".")
            if dot and target not in known:
                raise ValueError(f"--chip-param {key}: unknown profile {target!r}; choose from {', '.join(known)}")
            if not dot or target == name:
                mine[field] = value
        out[name] = profile.with_overrides(mine)
    return out
