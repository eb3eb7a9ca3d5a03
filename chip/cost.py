"""What the chip spends on one inference: time per step and per inference, and energy split into
dynamic, static and host, for a deployed program placed on a chip (chip/placement.py), from the
fast simulator's counts (chip/counts.py ChipAccumulator).  All figures per sample (means over
the samples simulated); every constant from the profile (chip/hardware.py), ns and pJ.

Time.  A step lasts as long as its busiest core, plus the longest route a spike takes, plus
the barrier that ends the step:

    step(t) = max over cores g of [ ops_g(t) * synop_ns
                                    + n_g * (a_L(t) * update_active_ns + (1 - a_L(t)) * update_inactive_ns) ]
              + max over core pairs that exchange spikes of (spike_in_tile_ns + dx * hop_ew_ns + dy * hop_ns_ns)
              + barrier

    ops_g(t)  the synaptic events core g processes on step t: its layer's events that step (the
              simulator's, per synapse layer) times g's share of that synapse layer's events over
              the run, which is exact per core (each neuron's spike count through the mapping's
              geometry, `Mapping.traffic`); how a layer's events split between its cores *within*
              a step is assumed to follow that share.
    a_L(t)    the fraction of layer L's neurons whose update is active (nonzero input) on step t,
              assumed the same on each of L's cores.  Readout accumulators are not updated
              neurons (the simulator counts no updates for them); their synaptic events are.
    barrier   Davies 2018 Table 2 gives 113 ns for 1 tile to 465 ns for 32 tiles; between them,
              and from one chip (465 ns) to Frady 2020's 14.3 us for 256 chips, the time is
              interpolated linearly in tiles or chips: an assumption, stated in the report.

As deployed, each of the T + depth steps is priced as counted (a synapse's events of step t
are processed on step t + 1, Lava's protocol).  Streamed (chip/counts.py: the self-resetting run
of deploy/lava_graph.py run_lava_stream), in steady state a layer starting at step s works on
step (t - s) mod T of some sample: T steps per inference; the pipeline's filling (depth steps
once per stream) is not charged.  A LIFReset's reset is part of its neuron's update on that step
(Lava's PyLifResetModelBitAcc): no energy or time of its own, an assumption (no figure is
published).

Energy.
    dynamic   synaptic events x synop_pj, active and inactive neuron updates x their energies,
              one spike message per spike and destination core it reaches x spike_in_tile_pj,
              and each message's east-west and north-south tile hops x hop_ew_pj, hop_ns_pj
    static    static power per chip x chips used x time per inference (mW x ns = pJ)
    host      the first layer, computed on the host in float: its MACs x the 45 nm FP32 MAC
              (chip/horowitz.py; the host is not a Loihi core: an assumption, labelled);
              as deployed (the host resets the chip between samples, deploy/lava_graph.py
              run_lava) also one state reset per chip per sample (reset_uj_per_chip) and the
              bias writes that switch each delayed layer's bias off at the reset and on at its
              start step (host_write_pj each); streamed, neither (the neurons reset themselves)

`ChipModel.cost(variant, activity)` prices the same run with every activity-driven count
(synaptic events, spike messages and hops, active updates) multiplied by `activity`: the
break-even firing rate (`break_even`) is the activity at which the chip's energy equals a
baseline's, times the measured rate.
"""
from __future__ import annotations

import numpy as np

from spikefold.chip.placement import Mapping
from spikefold.chip.program import Program
from spikefold.chip.horowitz import ENERGY_PJ
from spikefold.chip.counts import ChipAccumulator

VARIANTS = ("as_deployed", "streamed")


BARRIER_POINTS = (1, 2, 4, 29, 32)     # tile counts the profiles give a barrier time for


def barrier_ns(m: Mapping) -> float:
    """The barrier ending a step: on one chip, the profile's figure at the mapping's tile count,
    linear between its points (barrier_steps 0) or the point at or below it (1: SANA-FE's table);
    from 1 to 256 chips linear in chips up to barrier_256_chips_ns."""
    p = m.profile
    points = [p[f"barrier_{n}_tile{'s' if n > 1 else ''}_ns"] for n in BARRIER_POINTS]
    b32, b256 = points[-1], p["barrier_256_chips_ns"]
    if m.chips <= 1:
        tiles = min(max(m.tiles, 1), 32)
        if p["barrier_steps"]:
            return float(points[np.searchsorted(BARRIER_POINTS, tiles, side="right") - 1])
        return float(np.interp(tiles, BARRIER_POINTS, points))
    return b32 + (b256 - b32) * (min(m.chips, 256) - 1) / 255


def synop_figure(prof, kind: str, unit: str) -> float:
    """A synaptic event's energy (unit "pj") or time ("ns") for a synapse layer of this kind."""
    return prof[f"synop_{unit}"] if kind == "dense" else prof[f"synop_{kind}_{unit}"]


class ChipModel:
    def __init__(self, program: Program, mapping: Mapping, acc: ChipAccumulator):
        self.p, self.m, self.acc = program, mapping, acc
        self.xy = np.array([(c.x, c.y) for c in mapping.cores], np.float64)
        self.neurons = np.array([c.neurons for c in mapping.cores], np.float64)
        self.layer_of = [c.layer for c in mapping.cores]
        self.barrier = barrier_ns(mapping)
        self.sums = acc.result()
        self._laid_out = {}
        self.data = {v: self._traffic(acc.per_sample(v)) for v in VARIANTS}

    def _traffic(self, d: dict) -> dict:
        """One variant's per-sample figures `d` (ChipAccumulator.per_sample) with, per synapse layer,
        each destination core's share of its events, its events in all, the messages each core
        sends and receives (n_cores,), and in all the messages, their tile hops and longest route."""
        m, prof, n = self.m, self.m.profile, len(self.m.cores)
        share, events, sent, got = {}, {}, {}, {}
        msgs = hops_ew = hops_ns = route = 0.0
        for syn, s in self.p.synapses.items():
            ev, messages = m.traffic(syn, d["fired"][s.src])
            dst, src_cores = m.layers[s.dst]["cores"], np.asarray(m.layers[s.src]["cores"])
            share[syn] = ev / ev.sum() if ev.sum() > 0 else self.neurons[dst] / self.neurons[dst].sum()
            events[syn] = float(np.sum(d["events_per_step"][syn]))
            src, to = src_cores[messages.row], np.asarray(dst)[messages.col]
            sent[syn] = np.bincount(src, messages.data, n)
            got[syn] = np.bincount(to, messages.data, n)
            dx = np.abs(self.xy[src, 0] - self.xy[to, 0])
            dy = np.abs(self.xy[src, 1] - self.xy[to, 1])
            msgs += messages.data.sum()
            hops_ew += (messages.data * dx).sum()
            hops_ns += (messages.data * dy).sum()
            used = messages.data > 0
            if used.any():
                route = max(route, float((prof["spike_in_tile_ns"] + dx * prof["hop_ew_ns"] +
                                          dy * prof["hop_ns_ns"])[used].max()))
        fired = np.zeros(n)
        for name, l in m.layers.items():
            if name in d["fired"]:
                f3 = np.asarray(d["fired"][name], np.float64).reshape(l["shape"])
                for i in l["cores"]:
                    b = m.cores[i].box
                    fired[i] = f3[b[0]:b[1], b[2]:b[3], b[4]:b[5]].sum()
        return {"share": share, "events": events, "sent": sent, "got": got, "core_spikes": fired,
                "messages": msgs, "hops_ew": hops_ew, "hops_ns": hops_ns, "route_ns": route, **d}

    def _loads(self, v: str, activity: float) -> tuple:
        """(synaptic work ns, active updates, other neuron work ns) per core and step (n_cores,
        steps), and the routes' ns, with all activity scaled by `activity` (break_even prices one run
        many times: the measured loads are laid out once per variant, in `_measured`)."""
        if v not in self._laid_out:
            self._laid_out[v] = self._measured(v)
        syn_ns, frac, out_ns = self._laid_out[v]
        return (syn_ns * activity, self.neurons[:, None] * np.minimum(1.0, frac * activity), out_ns * activity,
                self.data[v]["route_ns"])

    def _measured(self, v: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The measured run per core and step (n_cores, steps): synaptic work in ns (events x their
        kind's time, messages received x message_in_ns), the fraction of the core's neurons whose
        update is active (its layer's), and the firing side's work in ns (spikes x spike_out_ns,
        messages sent x message_out_ns).  A core's messages and spikes are spread over the steps
        as its layer's outgoing (or its synapse's) events are: an assumption within a step."""
        p, m, d, prof = self.p, self.m, self.data[v], self.m.profile
        T = p.timesteps
        steps = p.steps if v == "as_deployed" else T
        syn_ns, out_ns = np.zeros((len(m.cores), steps)), np.zeros((len(m.cores), steps))
        frac = np.zeros_like(syn_ns)
        for syn, s in p.synapses.items():
            ev = d["events_per_step"][syn]
            fires = np.roll(ev, p.neurons[s.src].start % T) if v == "streamed" else ev
            if v == "as_deployed":          # events of step t are processed on step t + 1 + delay
                lag = min(1 + s.delay, len(ev))
                ev = np.concatenate([np.zeros(lag), ev[:len(ev) - lag]])
            else:                           # dst starts one step after src: same relative step,
                start = p.depth if s.dst == "readout" else p.neurons[s.dst].start
                start += s.src == s.dst     # a recurrent synapse delivers on its layer's next step
                ev = np.roll(ev, start % T)  # placed at global step (start + r) mod T
            cores = m.layers[s.dst]["cores"]
            syn_ns[cores] += d["share"][syn][:, None] * ev[None, :] * synop_figure(prof, s.kind, "ns")
            if d["events"][syn] > 0:
                when, sent = ev / d["events"][syn], fires / d["events"][syn]
                syn_ns += d["got"][syn][:, None] * when[None, :] * prof["message_in_ns"]
                out_ns += d["sent"][syn][:, None] * sent[None, :] * prof["message_out_ns"]
        for name, layer in p.neurons.items():
            cores = m.layers[name]["cores"]
            a = d["active_per_step"][name] / self.neurons[cores].sum()
            if v == "streamed":
                a = np.roll(a, layer.start % T)
            frac[cores] = a[None, :]
            out = p.outputs_of(name)
            ev = d["events_per_step"][out[0]] if out else np.zeros(steps)
            if v == "streamed":
                ev = np.roll(ev, layer.start % T)
            if ev.sum() > 0:
                out_ns[cores] += d["core_spikes"][cores][:, None] * (ev / ev.sum())[None, :] * prof["spike_out_ns"]
        return syn_ns, frac, out_ns

    def core_busy(self, v: str, activity: float = 1.0, overlap: int | None = None) -> tuple:
        """(busy ns per core and step (n_cores, steps), route ns per step): each core's synaptic
        work and neuron work (active and inactive updates, firing), summed or, with overlap 1 (the
        profile's `core_overlap` unless given), the larger of the two."""
        prof = self.m.profile
        syn_ns, act, out_ns, route = self._loads(v, activity)
        updating = np.array([layer != "readout" for layer in self.layer_of])
        inact = np.where(updating[:, None], self.neurons[:, None] - act, 0.0)
        neuron_ns = act * prof["update_active_ns"] + inact * prof["update_inactive_ns"] + out_ns
        overlap = prof["core_overlap"] if overlap is None else overlap
        return (np.maximum(syn_ns, neuron_ns) if overlap else syn_ns + neuron_ns), route

    def cost(self, v: str, activity: float = 1.0) -> dict:
        p, prof, d = self.p, self.m.profile, self.data[v]
        busy, route = self.core_busy(v, activity)
        step_ns = busy.max(0) + route + self.barrier
        time_ns = float(step_ns.sum())
        sums = self.sums[v]
        events = sums["synaptic_events"] * activity
        active = min(sums["active_updates"] * activity, sums["neuron_updates"])
        inactive = sums["neuron_updates"] - active
        msgs, ew, ns, spikes = (x * activity for x in (d["messages"], d["hops_ew"], d["hops_ns"], sums["spikes"]))
        kinds = {kind: synop_figure(prof, kind, "pj") for kind in ("dense", "conv", "sparse")}
        if len(set(kinds.values())) == 1:           # one figure for every kind (Davies 2018)
            dynamic = {f"synaptic events x {prof['synop_pj']:g} pJ": events * prof["synop_pj"]}
        else:
            dynamic = {f"{kind} synaptic events x {pj:g} pJ": activity * pj * sum(
                d["events"][k] for k, s in p.synapses.items() if s.kind == kind) for kind, pj in kinds.items()
                if kind == "dense" or any(s.kind == kind for s in p.synapses.values())}
        dynamic.update({
            f"active neuron updates x {prof['update_active_pj']:g} pJ": active * prof["update_active_pj"],
            f"inactive neuron updates x {prof['update_inactive_pj']:g} pJ": inactive * prof["update_inactive_pj"],
            f"spike messages x {prof['spike_in_tile_pj']:g} pJ": msgs * prof["spike_in_tile_pj"],
            f"E-W tile hops x {prof['hop_ew_pj']:g} pJ": ew * prof["hop_ew_pj"],
            f"N-S tile hops x {prof['hop_ns_pj']:g} pJ": ns * prof["hop_ns_pj"]})
        if prof["spike_out_pj"]:
            dynamic[f"spikes fired x {prof['spike_out_pj']:g} pJ"] = spikes * prof["spike_out_pj"]
        chips = self.m.chips
        static = {f"{prof['static_mw_per_chip']:g} mW x {chips} chip(s) x {time_ns:,.0f} ns":
                  prof["static_mw_per_chip"] * chips * time_ns}
        host_macs = self.sums["host_macs"]
        host = {f"host MACs x {ENERGY_PJ['mac_45nm']} pJ (45 nm FP32, assumed)": host_macs * ENERGY_PJ["mac_45nm"]}
        writes = 0
        if v == "as_deployed":
            host[f"state resets: {chips} chip(s) x {prof['reset_uj_per_chip']:g} uJ"] = \
                chips * prof["reset_uj_per_chip"] * 1e6
            writes = 2 * sum(int(np.count_nonzero(l.bias_mant)) for l in p.neurons.values() if l.start > 0)
            host[f"bias writes x {prof['host_write_pj']:g} pJ"] = writes * prof["host_write_pj"]
        parts = {"dynamic": dynamic, "static": static, "host": host}
        totals = {k: float(sum(t.values())) for k, t in parts.items()}
        return {"profile": prof.name, "variant": v, "activity": activity,
                "steps": int(len(step_ns)), "time_ns": time_ns, "inferences_per_s": 1e9 / time_ns,
                "step_ns": {"mean": float(step_ns.mean()), "max": float(step_ns.max()),
                            "barrier": self.barrier, "route": route},
                "counts": {"synaptic_events": events, "active_updates": active, "inactive_updates": inactive,
                           "spike_messages": msgs, "hops_ew": ew, "hops_ns": ns, "host_macs": host_macs,
                           "bias_writes": writes},
                "pj": totals["dynamic"] + totals["static"] + totals["host"], "split_pj": totals,
                "terms": {k: {t: float(e) for t, e in terms.items()} for k, terms in parts.items()}}

    def break_even(self, v: str, target_pj: float, measured_rate: float) -> dict:
        """The mean firing rate at which this variant's energy equals target_pj (all activity
        scaled alike); 'never' when even silence costs more, 'always' when a neuron firing on every
        step still costs less."""
        lo, hi = 0.0, 1.0 / measured_rate if measured_rate > 0 else 0.0
        e0 = self.cost(v, 0.0)["pj"]
        if e0 >= target_pj:
            return {"rate": None, "verdict": "never", "silent_pj": e0}
        if hi == 0.0 or self.cost(v, hi)["pj"] <= target_pj:
            return {"rate": None, "verdict": "always", "silent_pj": e0}
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.cost(v, mid)["pj"] < target_pj else (lo, mid)
        return {"rate": lo * measured_rate, "verdict": "below", "silent_pj": e0}
