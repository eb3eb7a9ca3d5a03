"""Loihi 2 as Intel measured it: lava-dl's PilotNet LIF run on one Loihi 2, and spikefold's own
run of the same network, counted and priced the same way, so that chip/hardware.py's `loihi2`
profile can be fitted on it and checked against it (bench/loihi2_silicon.py writes the
comparison; tests/chip/test_loihi2_profile.py guards it).

Intel's run (lava-dl, `tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb`, its saved
outputs at commit b9e369172b46, 2023-01-10; two earlier saved runs, 76c8fbb63ac9 and
baa23ad80f71, give the spread): `netx.hdf5.Network('network.net', reset_interval=16,
reset_offset=3)`, one frame held as the input layer's bias (no spike I/O), 10,000 steps on
`Loihi2HwCfg` on an Oheo Gulch board (one Loihi 2).  Its compiler's per-core table (input to
output: 13, 25, 13, 3, 3, 2, 12, 1, 1, 1 cores, 74 in all), 408.91 inferences/s at 16 steps
each (152.85 us per step), 0.232 W static (idle) and 0.447 W dynamic (total less idle), 1.094 mJ
dynamic energy per inference.

spikefold's run: the lava-dl wheel's own copy of that network and a frame
(`tests/lava/lib/dl/netx/gts/pilotnet_lif/network.net`, `image.npy`) read by
deploy/netx_read.py with the same reset_interval and reset_offset (read_netx mirrors netx's
arguments: block k resets on Lava time_step % 16 == (3 + 1 + k) % 16), the frame as the input
bias, every layer running from step 0 as on the chip.  With the bias held and every layer
resetting every 16 steps the run is periodic with period 16 once each layer has reset (by step
~30).  One inference in steady state is what a run of 16 (k + 1) steps adds to a run of 16 k
(k = 2): every count, time and energy below is that difference, so the pipeline's filling is
not in it, as it is not in Intel's 10,000-step average.  The readout core spikefold adds for
the network's out port (read on the host here; lava-dl reads the last block's spikes) is
reported apart from the ten layers Intel placed.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from spikefold.chip.cost import ChipModel
from spikefold.chip.counts import ChipAccumulator
from spikefold.chip.hardware import LOIHI, LOIHI_SANAFE, Profile
from spikefold.chip.placement import Mapping, map_program

STEPS_PER_INFERENCE = 16
RESET_OFFSET = 3
# Intel's compiler's per-core table, input to output (the notebook prints it output first)
INTEL_LAYERS = ("input", "conv1", "conv2", "conv3", "conv4", "conv5", "fc 2560->100", "fc 100->50",
                "fc 50->10", "fc 10->1")
INTEL_CORES = (13, 25, 13, 3, 3, 2, 12, 1, 1, 1)
INTEL_NEURONS_PER_CORE = (3168, 3072, 2160, 2688, 2048, 2048, 8, 50, 10, 1)   # as printed (8: 12 x 8 < 100)
# (run commit, inferences/s, total W, static W, dynamic W, total mJ, dynamic mJ per inference)
INTEL_RUNS = (("b9e369172b46", 408.91, 0.679234, 0.232078, 0.447156, 1.661103, 1.093544),
              ("baa23ad80f71", 413.76, 0.752382, 0.309377, 0.443005, 1.818389, 1.070673),
              ("76c8fbb63ac9", 415.51, 0.411676, 0.178059, 0.233617, 0.990769, 0.562239))
INTEL = {"us_per_step": 1e6 / INTEL_RUNS[0][1] / STEPS_PER_INFERENCE, "static_w": INTEL_RUNS[0][3],
         "dynamic_w": INTEL_RUNS[0][4], "dynamic_mj": INTEL_RUNS[0][6], "total_mj": INTEL_RUNS[0][5]}
INTEL["static_mj"] = INTEL["static_w"] * STEPS_PER_INFERENCE * INTEL["us_per_step"] * 1e-3
INTEL_SOURCE = ("lava-dl tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb, saved outputs of "
                "b9e369172b46 (2023-01-10): one Loihi 2, Oheo Gulch board")

# Hala Point (Intel, April 2024): 1,152 Loihi 2 chips, 140,544 cores, > 380e12 synaptic ops/s and
# > 240e12 neuron ops/s at most 2,600 W: per core, and all of the box's power per synaptic op
HALA_CORES = 140_544
HALA_SYNOP_NS = HALA_CORES / 380e12 * 1e9
HALA_NEURON_NS = HALA_CORES / 240e12 * 1e9
HALA_SYNOP_PJ_CEILING = 2600 / 380e12 * 1e12
# the Loihi 2 brief's "faster circuit speeds" over Loihi (claimed; partly pre-silicon simulation)
BRIEF_SYNOP_SPEEDUP, BRIEF_NEURON_SPEEDUP, BRIEF_SPIKE_SPEEDUP = 5.0, 2.0, 10.0

_TIME_KEYS = ("synop_ns", "synop_conv_ns", "synop_sparse_ns", "update_active_ns", "update_inactive_ns")


def time_candidates() -> dict:
    """{name: (overrides of the loihi2 profile's per-operation times, source)}: every published or
    derived candidate for a Loihi 2 core's time per operation.  Timcheck, Pierro and Shrestha, "A
    Compute and Communication Runtime Model for Loihi 2" (arXiv 2601.10035, 2026) measures these
    constants by microbenchmark, but its figures could not be read here: not a candidate yet."""
    t2 = {k: LOIHI[k] for k in _TIME_KEYS}
    return {
        "Loihi Table 2, carried over": (t2, "Davies 2018 Table 2 (Loihi, pre-silicon), unchanged"),
        "Loihi, SANA-FE's silicon fit, carried over": (
            {**{k: LOIHI_SANAFE[k] for k in _TIME_KEYS}, **{k: LOIHI_SANAFE[k] for k in (
                "spike_out_ns", "message_out_ns", "message_in_ns", "core_overlap")}},
            "SANA-FE's Loihi constants fitted on Loihi 1 silicon (Boyle 2025), unchanged, with its overlap rule"),
        "Loihi 2 brief's speed-ups over Table 2": (
            {"synop_ns": LOIHI["synop_ns"] / BRIEF_SYNOP_SPEEDUP,
             "synop_conv_ns": LOIHI["synop_ns"] / BRIEF_SYNOP_SPEEDUP,
             "synop_sparse_ns": LOIHI["synop_ns"] / BRIEF_SYNOP_SPEEDUP,
             "update_active_ns": LOIHI["update_active_ns"] / BRIEF_NEURON_SPEEDUP,
             "update_inactive_ns": LOIHI["update_inactive_ns"] / BRIEF_NEURON_SPEEDUP,
             "spike_in_tile_ns": LOIHI["spike_in_tile_ns"] / BRIEF_SPIKE_SPEEDUP},
            "Intel 2021 Loihi 2 brief: synaptic ops 5x, neuron updates 2x, spike generation 10x faster than Loihi"),
        "Hala Point throughput per core": (
            {"synop_ns": HALA_SYNOP_NS, "synop_conv_ns": HALA_SYNOP_NS, "synop_sparse_ns": HALA_SYNOP_NS,
             "update_active_ns": HALA_NEURON_NS, "update_inactive_ns": HALA_NEURON_NS},
            f"Hala Point 2024: 380e12 synaptic ops/s and 240e12 neuron ops/s over {HALA_CORES:,} cores "
            f"({HALA_SYNOP_NS:.2f} and {HALA_NEURON_NS:.2f} ns)"),
    }


def netx_gts() -> Path | None:
    """The lava-dl wheel's gts/pilotnet_lif folder (site-packages/tests/lava/lib/dl/netx/gts/
    pilotnet_lif), found without importing lava-dl, or None."""
    spec = importlib.util.find_spec("lava")
    for root in (spec.submodule_search_locations if spec else []):
        d = Path(root).parent / "tests" / "lava" / "lib" / "dl" / "netx" / "gts" / "pilotnet_lif"
        if (d / "network.net").is_file() and (d / "image.npy").is_file():
            return d
    return None


@dataclass
class PilotNetRun:
    """The simulator's runs of PilotNet LIF for k and k + 1 reset periods: (program, accumulator)."""
    short: tuple
    long: tuple

    def mapping(self, profile: Profile) -> Mapping:
        return map_program(self.long[0], profile)

    def counts(self) -> dict:
        """Per inference in steady state: synaptic events, neuron updates (active, inactive), spikes."""
        a, b = (acc.result()["as_deployed"] for _, acc in (self.short, self.long))
        return {k: b[k] - a[k] for k in ("synaptic_events", "neuron_updates", "active_updates",
                                         "inactive_updates", "spikes")}

    def price(self, profile: Profile) -> dict:
        """Per inference in steady state on `profile`: time per step (us), dynamic and static energy
        (pJ), the counts chip/cost.py priced, and the mapping."""
        c = []
        for program, acc in (self.short, self.long):
            m = map_program(program, profile)
            c.append(ChipModel(program, m, acc).cost("as_deployed"))
        d = {k: c[1]["split_pj"][k] - c[0]["split_pj"][k] for k in ("dynamic", "static")}
        time_ns = c[1]["time_ns"] - c[0]["time_ns"]
        return {"us_per_step": time_ns / STEPS_PER_INFERENCE / 1e3, "time_ns": time_ns,
                "dynamic_pj": d["dynamic"], "static_pj": d["static"],
                "counts": {k: c[1]["counts"][k] - c[0]["counts"][k] for k in c[0]["counts"]},
                "dynamic_terms": {k: c[1]["terms"]["dynamic"][k] - c[0]["terms"]["dynamic"].get(k, 0.0)
                                  for k in c[1]["terms"]["dynamic"]},
                "mapping": m}


def run_pilotnet(gts: Path, periods: int = 2) -> PilotNetRun:
    """PilotNet LIF as Intel ran it, in the fast simulator, for `periods` and `periods` + 1 reset
    intervals (plus the pipeline's depth)."""
    from spikefold.deploy.netx_read import read_netx
    from spikefold.simulate.engine import Simulator
    image = np.load(gts / "image.npy")                     # (W, H, C), Lava's layout
    x = torch.as_tensor(image.transpose(2, 1, 0)[None].astype(np.float64))
    runs = []
    for k in (periods, periods + 1):
        program = read_netx(gts / "network.net", timesteps=STEPS_PER_INFERENCE * k,
                            reset_interval=STEPS_PER_INFERENCE, reset_offset=RESET_OFFSET)
        acc = ChipAccumulator(program)
        acc.add(Simulator(program).run(x))
        runs.append((program, acc))
    return PilotNetRun(*runs)


def layer_cores(m: Mapping) -> list:
    """Cores per layer, input to output, without the readout (spikefold's out-port core)."""
    return [len(l["cores"]) for name, l in m.layers.items() if name != "readout"]


def fit_time_scale(run: PilotNetRun, profile: Profile, keys=_TIME_KEYS) -> float:
    """s such that the profile's figures `keys` times s give Intel's time per step.  A core's work
    and so the step's busiest core scale with s; the route and barrier do not: linear in s."""
    at = lambda s: run.price(profile.with_overrides({k: profile[k] * s for k in keys}))["us_per_step"]
    t1, t2 = at(1.0), at(2.0)
    return (INTEL["us_per_step"] - (2 * t1 - t2)) / (t2 - t1)


ENERGY_KEYS = ("synop_pj", "synop_conv_pj", "synop_sparse_pj", "update_active_pj", "update_inactive_pj",
               "spike_in_tile_pj", "hop_ew_pj", "hop_ns_pj")


def fit_energy_scale(run: PilotNetRun, profile: Profile) -> float:
    """k such that the profile's per-operation energies (ENERGY_KEYS) times k give Intel's dynamic
    energy per inference (dynamic energy is linear in them)."""
    return INTEL["dynamic_mj"] * 1e9 / run.price(profile)["dynamic_pj"]

