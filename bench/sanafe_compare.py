"""The pure half of bench/sanafe_check.py (no SANA-FE import here): SANA-FE architecture files made
from the text of the wheel's own Loihi file, the network's attributes in SANA-FE's units, and the
per-layer figures on both sides (spikefold's counts through a profile; SANA-FE's from its traces).
The time split term by term is bench/sanafe_time.py.

Units.  SANA-FE's LIF (its `leaky_integrate_fire` soma) integrates in floats: v <- trunc64(v *
leak_decay) + bias + u with u <- u * input_decay + input and trunc64 truncating toward zero to
1/64.  With v counted in units of 64 of Loihi's v (so trunc64 is Lava's trunc of v * (4096 - dv)
/ 4096 exactly), a synapse's weight is its activation in Lava's a units (w << weight_exp), a
bias is bias_mant << bias_exp / 64 and a threshold is vth: integer for integer what Lava
computes, for layers whose du is 4095 (u cleared every step).  SANA-FE does not truncate u
(du < 4095), saturate v at 24 bits or wrap u, v or conv accumulators: the simulator's overflow
counters say whether any of that happened.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
from scipy import sparse

from spikefold.chip.formats import DECAY_UNITY, DU_MAX, DU_OFFSET, DV_OFFSET, VTH_SHIFT
from spikefold.chip.cost import synop_figure
from spikefold.chip.hardware import Profile
from spikefold.chip.tiling import shape3

UNCOSTED = "spikefold_uncosted"   # a soma that costs nothing: the readout's accumulators (not neurons on
                                  # the chip, as chip/cost.py prices them)
SYNAPSE_HW = {"conv": "loihi_conv_synapse", "dense": "loihi_dense_synapse", "sparse": "loihi_sparse_synapse"}
BYTES_PER_SYNAPSE = 920       # SANA-FE 2.2.9, measured: 9.1 GB for the res20m window's 10.6 M synapses on a
                              # 2,816-core mesh (~620 B per connection in its Network, the rest once loaded)


class View:
    """The part of a program built in SANA-FE: the whole program (first None), or a window of
    consecutive layers: `first`, replayed (its spikes those spikefold recorded, forced by a
    per-step bias on a soma that costs nothing), and every layer starting after it up to `last`'s
    start step, each of which must take all its input from the window.  Only synapses between
    window layers (and to the readout, for the whole program) are kept."""

    def __init__(self, program, first: str | None = None, last: str | None = None):
        self.program, self.steps, self.timesteps, self.replay = program, program.steps, program.timesteps, first
        if first is None:
            keep = list(program.neurons)
        else:
            lo, hi = program.neurons[first].start, program.neurons[last].start
            keep = [first] + [n for n, l in program.neurons.items() if lo < l.start <= hi and n != first]
        self.neurons = {n: program.neurons[n] for n in keep}
        self.synapses = {k: s for k, s in program.synapses.items()
                         if s.src in keep and (s.dst in keep or (first is None and s.dst == "readout"))}
        for n in keep[1:] if first else []:
            outside = sorted(program.synapses[k].src for k in program.inputs_of(n) if program.synapses[k].src not in keep)
            if outside:
                raise ValueError(f"window {first}:{last}: layer {n} also takes input from {outside}")
        self.names = keep + (["readout"] if any(s.dst == "readout" for s in self.synapses.values()) else [])
        self.host_dst = program.host.dst if first is None else None

    def inputs_of(self, name: str) -> list[str]:
        return [k for k, s in self.synapses.items() if s.dst == name]


def edge_count(s) -> int:
    """How many structural synapses `edges(s)` gives, without building them."""
    w = np.asarray(s.weight)
    if s.kind != "conv":
        return int(np.count_nonzero(w)) if s.kind == "sparse" else int(w.size)
    (ci, hi, wi), (co, ho, wo), (kh, kw) = s.in_shape, s.out_shape, w.shape[2:]
    valid = [sum(0 <= o * st - pad + k < n for o in range(no) for k in range(kn))
             for no, kn, st, pad, n in ((ho, kh, s.stride[0], s.padding[0], hi), (wo, kw, s.stride[1], s.padding[1], wi))]
    return co * ci * valid[0] * valid[1]


TERMS = ("spikes", "events", "updates", "active", "messages", "hops_ew", "hops_ns", "energy_pj",
         "neuron_ns", "message_ns")


def davies_values(prof: Profile, barrier_ns: float) -> dict:
    """{SANA-FE attribute: value in J or s} giving its Loihi file the profile's figures: a neuron's
    access is the inactive update, its update the active one's extra; a message costs
    spike_in_tile_pj at the sender; no spike-out cost or per-message latency (the profile has
    none); the sync is the profile's barrier at this mapping's tile count."""
    pj, ns = 1e-12, 1e-9
    return {"energy_process_spike": prof["synop_pj"] * pj, "latency_process_spike": prof["synop_ns"] * ns,
            "energy_access_neuron": prof["update_inactive_pj"] * pj,
            "energy_update_neuron": (prof["update_active_pj"] - prof["update_inactive_pj"]) * pj,
            "energy_spike_out": 0.0, "latency_access_neuron": prof["update_inactive_ns"] * ns,
            "latency_update_neuron": (prof["update_active_ns"] - prof["update_inactive_ns"]) * ns,
            "latency_spike_out": 0.0, "energy_message_out": prof["spike_in_tile_pj"] * pj,
            "latency_message_out": 0.0, "energy_message_in": 0.0, "latency_message_in": 0.0,
            "energy_east_hop": prof["hop_ew_pj"] * pj, "energy_west_hop": prof["hop_ew_pj"] * pj,
            "energy_north_hop": prof["hop_ns_pj"] * pj, "energy_south_hop": prof["hop_ns_pj"] * pj,
            "latency_east_hop": prof["hop_ew_ns"] * ns, "latency_west_hop": prof["hop_ew_ns"] * ns,
            "latency_north_hop": prof["hop_ns_ns"] * ns, "latency_south_hop": prof["hop_ns_ns"] * ns,
            "latency_sync": {1: barrier_ns * ns}}


def arch_text(stock: str, tiles_x: int, tiles_y: int, values: dict | None = None) -> str:
    """SANA-FE's Loihi file `stock` (its text, read from the wheel at run time) for a mesh of
    tiles_x x tiles_y tiles, with every attribute in `values` replaced (all units of that name),
    and its 1,024 input units per core swapped for one soma that costs nothing (UNCOSTED)."""
    start = stock.index("- name: loihi_inputs")
    indent = stock[stock.rindex("\n", 0, start) + 1:start]
    end = stock.index("\n", stock.index(f"{indent[:-2]}dendrite:", start)) + 1
    end = stock.rindex("\n", 0, end - 1) + 1
    zeros = [f"{k}: 0.0" for k in ("energy_access_neuron", "latency_access_neuron", "energy_update_neuron",
                                   "latency_update_neuron", "energy_spike_out", "latency_spike_out")]
    block = "\n".join([f"{indent}- name: {UNCOSTED}", f"{indent}  attributes:",
                       f"{indent}    model: leaky_integrate_fire"] + [f"{indent}    {z}" for z in zeros]) + "\n"
    head, tail = stock[:start - len(indent)], stock[end:]
    for key, value in (values or {}).items():         # the file's own units only, not the block below
        v = ("{" + ", ".join(f"{k}: {x!r}" for k, x in value.items()) + "}") if isinstance(value, dict) else repr(value)
        head, n = re.subn(rf"^(\s*{key}: ).*$", rf"\g<1>{v}", head, flags=re.M)
        tail, n2 = re.subn(rf"^(\s*{key}: ).*$", rf"\g<1>{v}", tail, flags=re.M)
        assert n + n2, f"SANA-FE's Loihi file has no attribute {key}"
    text = head + block + tail
    text = re.sub(r"^(\s*width: ).*$", rf"\g<1>{tiles_x}", text, count=1, flags=re.M)
    text = re.sub(r"^(\s*height: ).*$", rf"\g<1>{tiles_y}", text, count=1, flags=re.M)
    return re.sub(r"loihi_tile\[0\.\.\d+\]", f"loihi_tile[0..{tiles_x * tiles_y - 1}]", text)


def neuron_attributes(layer) -> list[dict]:
    """Per neuron (C, H, W order) SANA-FE attributes of a NeuronLayer, bias left out (set per step)."""
    size = int(np.prod(layer.shape))
    f = lambda a: np.broadcast_to(np.asarray(a, np.float64), layer.shape).reshape(-1)
    leak = (DECAY_UNITY - (f(layer.dv) + DV_OFFSET)) / DECAY_UNITY
    decay_u = np.clip((DECAY_UNITY - (f(layer.du) + DU_OFFSET)) / DECAY_UNITY, 0.0, 1.0)
    vth = f(layer.vth)
    return [{"threshold": float(vth[i]), "leak_decay": float(leak[i]), "input_decay": float(decay_u[i]),
             "reset": 0.0, "reset_mode": "hard"} for i in range(size)]


def bias_units(layer) -> np.ndarray:
    """The layer's bias per neuron in SANA-FE's v units (Loihi's v / 64), flat in C, H, W order."""
    b = np.asarray(layer.bias_mant, np.float64) * np.exp2(np.asarray(layer.bias_exp, np.float64))
    return np.broadcast_to(b, layer.shape).reshape(-1) / (1 << VTH_SHIFT)


def current_free(layer) -> bool:
    return bool(np.all(np.asarray(layer.du) == DU_MAX))


def edges(s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src, dst, weight) of every structural synapse of a SynapseLayer, neurons numbered in C, H, W
    order; weights in activation units (w << weight_exp for dense and sparse; a conv's as is).
    Dense and conv keep zero weights (Lava stores and visits them), sparse only nonzero ones."""
    w = np.asarray(s.weight, np.float64)
    if s.kind in ("dense", "sparse"):
        w = w * 2.0 ** s.weight_exp
        dst, src = np.nonzero(w) if s.kind == "sparse" else np.indices(w.shape).reshape(2, -1)
        return src, dst, w[dst, src]
    ci, hi, wi = s.in_shape
    co, ho, wo = s.out_shape
    kh, kw = w.shape[2:]
    oc, oy, ox, ic, ky, kx = np.meshgrid(np.arange(co), np.arange(ho), np.arange(wo), np.arange(ci),
                                         np.arange(kh), np.arange(kw), indexing="ij")
    iy, ix = oy * s.stride[0] - s.padding[0] + ky, ox * s.stride[1] - s.padding[1] + kx
    ok = (iy >= 0) & (iy < hi) & (ix >= 0) & (ix < wi)
    src = (ic * hi + iy) * wi + ix
    dst = (oc * ho + oy) * wo + ox
    return src[ok], dst[ok], w[oc[ok], ic[ok], ky[ok], kx[ok]]


def reach(s) -> sparse.csr_matrix:
    """(n_dst, n_src) 0/1: which destination neurons a source neuron's spike reaches."""
    src, dst, _ = edges(s)
    n_src, n_dst = int(np.prod(s.in_shape)), int(np.prod(s.out_shape))
    return sparse.csr_matrix((np.ones(len(src)), (dst, src)), shape=(n_dst, n_src)).sign()


def ours(program, model, prof: Profile, fired: dict, events: dict, active: dict) -> dict:
    """spikefold's per-layer figures per sample, as deployed, through `prof` (chip/cost.py's terms
    split by layer): a layer's synaptic events are those it receives, its messages and hops those
    its spikes send.  fired: layer -> spikes per neuron; events: synapse -> events; active: layer ->
    active updates."""
    m, steps = model.m, program.steps
    rows = {}
    for name in program.names:
        size = float(np.prod(shape3(program.neurons[name].shape))) if name in program.neurons else 0.0
        row = dict.fromkeys(TERMS, 0.0)
        row["spikes"] = float(fired[name].sum()) if name in fired else 0.0
        row["updates"], row["active"] = size * steps, float(active.get(name, 0.0))
        for syn, s in program.synapses.items():
            if s.dst == name:
                row["events"] += events[syn]
                row["energy_pj"] += events[syn] * synop_figure(prof, s.kind, "pj")
                row["message_ns"] += events[syn] * synop_figure(prof, s.kind, "ns")
            if s.src == name:
                ev, msg = m.traffic(syn, fired[name])
                src = np.asarray(m.layers[s.src]["cores"])[msg.row]
                dst = np.asarray(m.layers[s.dst]["cores"])[msg.col]
                row["messages"] += msg.data.sum()
                row["hops_ew"] += (msg.data * np.abs(model.xy[src, 0] - model.xy[dst, 0])).sum()
                row["hops_ns"] += (msg.data * np.abs(model.xy[src, 1] - model.xy[dst, 1])).sum()
        inactive = row["updates"] - row["active"]
        row["energy_pj"] += (row["active"] * prof["update_active_pj"] + inactive * prof["update_inactive_pj"] +
                             row["spikes"] * prof["spike_out_pj"] + row["messages"] * prof["spike_in_tile_pj"] +
                             row["hops_ew"] * prof["hop_ew_pj"] + row["hops_ns"] * prof["hop_ns_pj"])
        row["neuron_ns"] = (row["active"] * prof["update_active_ns"] + inactive * prof["update_inactive_ns"] +
                            row["spikes"] * prof["spike_out_ns"] + row["messages"] * prof["message_out_ns"])
        rows[name] = row
    for syn, s in program.synapses.items():            # messages in: charged where they are processed
        msgs = model.m.traffic(syn, fired[s.src])[1].data.sum()
        rows[s.dst]["message_ns"] += msgs * prof["message_in_ns"]
    if program.replay:
        _as_replayed(rows[program.replay], prof)
        rows[program.replay]["neuron_ns"] = rows[program.replay]["messages"] * prof["message_out_ns"]
    return rows


def _as_replayed(row: dict, prof: Profile) -> None:
    """A replayed layer's row: its spikes and the messages and hops they send, and what those cost;
    its own updates and inputs are not modelled (SANA-FE forces its spikes, on a soma that costs nothing)."""
    row.update(events=0.0, updates=0.0, active=0.0, message_ns=0.0)
    row["energy_pj"] = (row["messages"] * prof["spike_in_tile_pj"] + row["hops_ew"] * prof["hop_ew_pj"] +
                        row["hops_ns"] * prof["hop_ns_pj"])


def check_file(stock: str, prof: Profile) -> None:
    """Every figure the calibrated profile cites from SANA-FE's Loihi file is what the file says."""
    def first(key: str, after: str = "") -> float:
        at = stock.index(after) if after else 0
        return float(re.search(rf"^\s*{key}: ([-0-9.e]+)", stock[at:], re.M).group(1))
    pj, ns = 1e12, 1e9
    pairs = {"synop_pj": first("energy_process_spike", "loihi_dense_synapse") * pj,
             "synop_ns": first("latency_process_spike", "loihi_dense_synapse") * ns,
             "synop_conv_pj": first("energy_process_spike", "loihi_conv_synapse") * pj,
             "synop_conv_ns": first("latency_process_spike", "loihi_conv_synapse") * ns,
             "synop_sparse_pj": first("energy_process_spike", "loihi_sparse_synapse") * pj,
             "synop_sparse_ns": first("latency_process_spike", "loihi_sparse_synapse") * ns,
             "update_inactive_pj": first("energy_access_neuron") * pj,
             "update_active_pj": (first("energy_access_neuron") + first("energy_update_neuron")) * pj,
             "update_inactive_ns": first("latency_access_neuron") * ns,
             "update_active_ns": (first("latency_access_neuron") + first("latency_update_neuron")) * ns,
             "spike_out_pj": first("energy_spike_out") * pj, "spike_out_ns": first("latency_spike_out") * ns,
             "spike_in_tile_pj": first("energy_message_out") * pj, "message_out_ns": first("latency_message_out") * ns,
             "message_in_ns": first("latency_message_in") * ns, "hop_ew_pj": first("energy_east_hop") * pj,
             "hop_ns_pj": first("energy_north_hop") * pj, "hop_ew_ns": first("latency_east_hop") * ns,
             "hop_ns_ns": first("latency_north_hop") * ns}
    sync = re.search(r"^\s*latency_sync: \{(.*)\}", stock, re.M).group(1)
    for part in sync.split(","):
        tiles, value = (x.strip() for x in part.split(":"))
        pairs[f"barrier_{tiles}_tile{'s' if tiles != '1' else ''}_ns"] = float(value) * ns
    wrong = {k: (v, prof[k]) for k, v in pairs.items() if not np.isclose(v, prof[k], rtol=1e-9, atol=1e-9)}
    assert not wrong, f"{prof.name} does not match SANA-FE's Loihi file: {wrong}"


def sanafe_rows(program, mapping, prof: Profile, core_id: dict, traces: list, our_spikes: dict, model) -> tuple:
    """SANA-FE's per-layer figures per sample from its traces (bench/sanafe_check.py run_sample),
    priced with its own rules and the profile's figures (the file's), and the totals: SANA-FE's
    reported energy and time, its per-core work combined by the sum and the max rule, spike mismatches."""
    names, steps = program.names, program.steps
    size = {n: int(np.prod(mapping.layers[n]["shape"])) for n in names}
    offset = dict(zip(sorted(names), np.cumsum([0] + [size[n] for n in sorted(names)])[:-1]))
    layer_of = np.array([c.layer for c in mapping.cores])
    reaches = {k: reach(s) for k, s in program.synapses.items()}
    rows = {n: dict.fromkeys(TERMS + ("mismatch",), 0.0) for n in names}
    tot = dict.fromkeys(("energy_pj", "time_ns", "updated", "updated_rebuilt", "sum_rule_ns", "max_rule_ns",
                         "sum_work_ns"), 0.0)
    n_cores, tot["work"] = len(mapping.cores), []
    timed = [i for n in names if n != program.replay for i in mapping.layers[n]["cores"]]
    for b, trace in enumerate(traces):
        spk = {n: np.zeros((steps, size[n]), bool) for n in names}
        work_n, work_m = np.zeros((n_cores, steps)), np.zeros((n_cores, steps))
        for t, step in enumerate(trace):
            for g, i in step["spikes"]:
                spk[g][t, i] = True
            for m in step["messages"]:
                src = core_id[m["src_core_id"]]
                work_n[src, t] += m["generation_delay"] * 1e9
                if m["placeholder"]:
                    continue
                dst = core_id[m["dest_core_id"]]
                work_m[dst, t] += m["processing_delay"] * 1e9
                row = rows[m["src_neuron_group_id"]]
                row["messages"] += 1
                row["hops_ew"] += abs(m["src_x"] - m["dest_x"])
                row["hops_ns"] += abs(m["src_y"] - m["dest_y"])
                rows[layer_of[dst]]["events"] += m["spikes"]
            tot["energy_pj"] += step["energy"]["total"] * 1e12
            tot["time_ns"] += step["perf"]["sim_time"] * 1e9
            tot["updated"] += step["perf"]["updated"]
        for name in names:
            cores = mapping.layers[name]["cores"]
            rows[name]["neuron_ns"] += work_n[cores].sum()
            rows[name]["message_ns"] += work_m[cores].sum()
            rows[name]["spikes"] += spk[name].sum()
            if name in our_spikes:
                rows[name]["mismatch"] += (our_spikes[name][:, b].reshape(steps, -1).numpy() != spk[name]).sum()
        _updated(program, trace, spk, reaches, offset, size, rows)
        tot["sum_rule_ns"] += (work_n + work_m).max(0).sum() + steps * model.barrier
        tot["max_rule_ns"] += np.maximum(work_n, work_m).max(0).sum() + steps * model.barrier
        tot["sum_work_ns"] += (work_n + work_m)[timed].max(0).sum()
        tot["work"].append((work_n, work_m))
    n = len(traces)
    for name, row in rows.items():
        for k in row:
            row[k] /= n
        _price(program, prof, name, row)
        if name == program.replay:
            tot["updated"] -= row["active"] * n     # the replayed layer's forced updates are not its own
            _as_replayed(row, prof)
        tot["updated_rebuilt"] += row["active"]
    for k in tot:
        if k not in ("updated_rebuilt", "work"):
            tot[k] /= n
    return rows, tot


def _updated(program, trace, spk, reaches, offset, size, rows) -> None:
    """SANA-FE's rule for an updated neuron, rebuilt from its traces: on step t its potential
    before the step, its input (a synaptic event from step t - 1) or its bias is nonzero.  Every
    neuron is accessed every step (rows' "updates"); the readout's cost nothing."""
    for name in rows:
        row = rows[name]
        if name != "readout":
            row["updates"] += size[name] * len(trace)
        for t in range(len(trace)):
            prev = trace[t - 1]["potentials"][offset[name]: offset[name] + size[name]] if t else np.zeros(size[name])
            got = np.zeros(size[name], bool)
            for k, s in program.synapses.items():
                if s.dst == name and t:
                    got |= (reaches[k] @ spk[s.src][t - 1].astype(np.float64)) > 0
            bias = trace[t]["bias_nonzero"].get(name, np.zeros(size[name], bool))
            row["active"] += float(((prev != 0) | got | bias).sum())


def _price(program, prof: Profile, name: str, row: dict) -> None:
    """A SANA-FE row's dynamic energy: its counts times the file's figures (those of `prof`)."""
    kind = {s.kind for s in program.synapses.values() if s.dst == name}
    e = row["events"] * (synop_figure(prof, kind.pop(), "pj") if kind else 0.0)
    if name != "readout":
        e += (row["updates"] * prof["update_inactive_pj"] + row["active"] *
              (prof["update_active_pj"] - prof["update_inactive_pj"]) + row["spikes"] * prof["spike_out_pj"])
    row["energy_pj"] = e + (row["messages"] * prof["spike_in_tile_pj"] + row["hops_ew"] * prof["hop_ew_pj"] +
                            row["hops_ns"] * prof["hop_ns_pj"])


def table(label: str, program, mine: dict, theirs: dict, tot: dict, model) -> str:
    """The comparison printed: per layer ours / SANA-FE / ratio for each term, then the totals."""
    short = {"spikes": "spikes", "events": "syn. events", "active": "updated*", "messages": "messages",
             "hops_ew": "E-W hops", "hops_ns": "N-S hops", "energy_pj": "dyn. pJ", "neuron_ns": "neuron ns",
             "message_ns": "synaptic ns"}
    lines = [f"\n== {label}: per inference, spikefold / SANA-FE (ratio SANA-FE / spikefold) =="]
    for name in mine:
        cells = []
        for k, lab in short.items():
            a, b = mine[name][k], theirs[name][k]
            cells.append(f"{lab} {a:,.0f} / {b:,.0f}" + (f" ({b / a:.4f})" if a else ""))
        lines.append(f"{name}: " + "; ".join(cells) + f"; spike mismatches {theirs[name]['mismatch']:,.0f}")
    ours_dyn = sum(r["energy_pj"] for r in mine.values())
    if program.replay:
        return "\n".join(lines + window_totals(program, mine, theirs, tot, model, ours_dyn))
    c = model.cost("as_deployed")
    flipped = other_rule_ns(model)
    lines += [f"TOTAL dynamic energy: spikefold {c['split_pj']['dynamic']:,.0f} pJ (per-layer sum {ours_dyn:,.0f}); "
              f"SANA-FE reported {tot['energy_pj']:,.0f} pJ (per-layer sum "
              f"{sum(r['energy_pj'] for r in theirs.values()):,.0f}); ratio {tot['energy_pj'] / c['split_pj']['dynamic']:.4f}",
              f"TOTAL updated neurons (SANA-FE's rule): reported {tot['updated']:,.0f}, rebuilt from its traces "
              f"{tot['updated_rebuilt']:,.0f}; spikefold's active updates {sum(r['active'] for r in mine.values()):,.0f}",
              f"TOTAL time per inference: spikefold {c['time_ns']:,.0f} ns ({'max' if model.m.profile['core_overlap'] else 'sum'} "
              f"rule), {flipped:,.0f} ns (the other rule); SANA-FE detailed {tot['time_ns']:,.0f} ns; SANA-FE's per-core "
              f"work + sync by the sum rule {tot['sum_rule_ns']:,.0f} ns, by the max rule {tot['max_rule_ns']:,.0f} ns"]
    return "\n".join(lines)


def window_totals(view, mine: dict, theirs: dict, tot: dict, model, ours_dyn: float) -> list[str]:
    """A window's totals: its layers' dynamic energy, updates and time (per-layer work, and the
    busiest window core per step by the sum rule, the replayed layer's cores left out)."""
    timed = [i for n in view.names if n != view.replay for i in model.m.layers[n]["cores"]]
    ours_work = float(core_busy(model)[timed].max(0).sum())
    work = lambda rows: sum(r["neuron_ns"] + r["message_ns"] for r in rows.values())
    return [f"WINDOW dynamic energy: spikefold per-layer sum {ours_dyn:,.0f} pJ; SANA-FE reported {tot['energy_pj']:,.0f} pJ "
            f"(per-layer sum {sum(r['energy_pj'] for r in theirs.values()):,.0f}); ratio {tot['energy_pj'] / ours_dyn:.4f}",
            f"WINDOW updated neurons (SANA-FE's rule): reported {tot['updated']:,.0f}, rebuilt from its traces "
            f"{tot['updated_rebuilt']:,.0f}; spikefold's active updates {sum(r['active'] for r in mine.values()):,.0f}",
            f"WINDOW core work (neuron + synaptic ns, all cores): spikefold {work(mine):,.0f}, SANA-FE {work(theirs):,.0f} "
            f"(ratio {work(theirs) / work(mine):.4f})",
            f"WINDOW time, busiest window core per step summed over the {view.steps} steps, sync left out (sum rule; "
            f"replayed layer's cores not counted): spikefold {ours_work:,.0f} ns, SANA-FE {tot['sum_work_ns']:,.0f} ns "
            f"(ratio {tot['sum_work_ns'] / ours_work:.4f}); SANA-FE detailed, its {len(model.m.cores)}-core mesh's "
            f"sync included, {tot['time_ns']:,.0f} ns (no spikefold figure: the window is not a whole inference)"]


def core_busy(model, overlap: int = 0) -> np.ndarray:
    """spikefold's per-core work per step, as deployed (n_cores, steps): synaptic + neuron ns
    (overlap 0, the sum rule) or their larger (1), as chip/cost.py ChipModel.cost prices it."""
    return model.core_busy("as_deployed", overlap=overlap)[0]


def other_rule_ns(model) -> float:
    """The model's time per inference (as deployed) under the other core rule (sum <-> max)."""
    prof = model.m.profile.with_overrides({"core_overlap": 1 - model.m.profile["core_overlap"]})
    return type(model)(model.p, replace(model.m, profile=prof), model.acc).cost("as_deployed")["time_ns"]
