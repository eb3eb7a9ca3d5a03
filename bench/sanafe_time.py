"""The time half of the SANA-FE comparison (bench/sanafe_check.py; no SANA-FE import here):
spikefold's per-core work per step beside SANA-FE's per-core trace counts, split term by term
(synaptic events, neuron updates, spike messages, sync) so that the difference between the two
times per inference is walked down to what neither side explains.  The network and energy half
is bench/sanafe_compare.py."""
from __future__ import annotations


import numpy as np
from scipy import sparse

from sanafe_compare import core_busy, edges, other_rule_ns

from spikefold.chip.cost import synop_figure
from spikefold.chip.hardware import Profile
from spikefold.chip.tiling import shape3


def _core_counts(view, mapping, prof: Profile, trace: list, core_id: dict, cores: dict, weights: dict,
                 host: np.ndarray | None) -> dict:
    """One sample's SANA-FE run counted per core and step (n_cores, steps): neuron work rebuilt
    from counts (updates by SANA-FE's rule and by spikefold's, spikes, messages out) and
    synaptic work (events by their kind's figure, messages in).  cores: layer -> core per neuron;
    weights: synapse -> (n_dst, n_src) weight matrix; host: (T or 1, n) currents into host_dst."""
    n, steps = len(mapping.cores), len(trace)
    z = lambda: np.zeros((n, steps))
    c = {k: z() for k in ("act_sf", "act_ours", "spikes", "out", "syn", "in", "accessed")}
    size = {k: len(v) for k, v in cores.items()}
    offset = dict(zip(sorted(size), np.cumsum([0] + [size[k] for k in sorted(size)])[:-1]))
    fired = {k: np.zeros((steps, size[k])) for k in size}
    synop = {n: synop_figure(prof, s.kind, "ns") for s in view.synapses.values() for n in [s.dst]}
    reached = {k: abs(w).sign() for k, w in weights.items()}
    for t, step in enumerate(trace):
        for g, i in step["spikes"]:
            fired[g][t, i] = 1.0
    for t, step in enumerate(trace):
        for m in step["messages"]:
            if not m["placeholder"]:
                src, dst = core_id[m["src_core_id"]], core_id[m["dest_core_id"]]
                c["out"][src, t] += 1
                c["in"][dst, t] += 1
                c["syn"][dst, t] += m["spikes"] * synop[mapping.cores[dst].layer]
        for name in view.names:
            if name == "readout" or name == view.replay:
                continue
            step_prev = trace[t - 1]["potentials"][offset[name]:offset[name] + size[name]] if t else 0.0
            a = np.zeros(size[name])
            for k, s in view.synapses.items():
                if s.dst == name and t:
                    a += weights[k] @ fired[s.src][t - 1]
            if name == view.host_dst and t < view.timesteps:
                a += host[t if len(host) > 1 else 0]
            got = np.zeros(size[name], bool)
            for k, s in view.synapses.items():
                if s.dst == name and t:
                    got |= (reached[k] @ fired[s.src][t - 1]) > 0
            sf_rule = (np.asarray(step_prev) != 0) | got | step["bias_nonzero"][name]
            np.add.at(c["act_sf"][:, t], cores[name], sf_rule)
            np.add.at(c["act_ours"][:, t], cores[name], a != 0)
            np.add.at(c["accessed"][:, t], cores[name], 1.0)
            np.add.at(c["spikes"][:, t], cores[name], fired[name][t])
    return c


def time_split(view, mapping, model, core_id: dict, traces: list, work: list, host: np.ndarray | None) -> dict:
    """SANA-FE's per-core work + sync by the sum rule, walked to spikefold's sum-rule time one
    change at a time (chip/cost.py's assumptions), each change's size named; host: (T or 1, B, n)
    currents into the host's layer.  Also per step the busiest core's work on either side."""
    prof, steps = mapping.profile, view.steps
    sync = 0.0 if view.replay else steps * model.barrier        # a window: work only, its own cores only
    timed = [i for n in view.names if n != view.replay for i in mapping.layers[n]["cores"]]
    cores = {}
    for name in view.names:
        layer = mapping.layers[name]
        index = np.zeros(shape3(layer["shape"]), np.int64)
        for i in layer["cores"]:
            b = mapping.cores[i].box
            index[b[0]:b[1], b[2]:b[3], b[4]:b[5]] = i
        cores[name] = index.reshape(-1)
    weights = {k: sparse.csr_matrix((w, (dst, src)), shape=(int(np.prod(s.out_shape)), int(np.prod(s.in_shape))))
               for k, s in view.synapses.items() for src, dst, w in [edges(s)]}
    d_act = prof["update_active_ns"] - prof["update_inactive_ns"]
    per = {k: [] for k in ("measured", "rebuilt", "rule", "shift")}
    ours_rule = dict.fromkeys(view.neurons, 0.0)
    for b, (trace, (wn, wm)) in enumerate(zip(traces, work)):
        h = host[:, b].reshape(len(host), -1) if host is not None else None
        c = _core_counts(view, mapping, prof, trace, core_id, cores, weights, h)
        neuron = (c["accessed"] * prof["update_inactive_ns"] + c["spikes"] * prof["spike_out_ns"] +
                  c["out"] * prof["message_out_ns"])
        syn = c["syn"] + c["in"] * prof["message_in_ns"]
        per["measured"].append(wn + wm)
        per["rebuilt"].append(neuron + c["act_sf"] * d_act + syn)
        per["rule"].append(neuron + c["act_ours"] * d_act + syn)
        per["shift"].append(neuron + c["act_ours"] * d_act + np.pad(syn, ((0, 0), (1, 0)))[:, :steps])
        for name in view.neurons:
            if name != view.replay:
                ours_rule[name] += c["act_ours"][mapping.layers[name]["cores"]].sum() / len(traces)
    total = lambda arrays: float(np.mean([a[timed].max(0).sum() for a in arrays])) + sync
    busy = core_busy(model, overlap=0)[timed]
    mean_sample = np.mean(per["shift"], axis=0)[timed]
    route = model.cost("as_deployed")["step_ns"]["route"] * steps
    stages = [("SANA-FE's per-core work (its message trace) + sync", total(per["measured"])),
              ("the same rebuilt from its counts x the file's figures", total(per["rebuilt"])),
              ("updates counted by spikefold's rule (synaptic input nonzero), per core", total(per["rule"])),
              ("synaptic work of step t's spikes done on step t + 1 (Lava's protocol)", total(per["shift"])),
              ("the mean sample priced (max over cores of the mean, not mean of the max)",
               float(mean_sample.max(0).sum()) + sync),
              ("a layer's work split over its cores by run-long shares (spikefold's per-core model)",
               float(busy.max(0).sum()) + sync)]
    if view.replay:
        whole = stages[-1][1]
    else:
        stages.append(("+ the longest route each step (spikefold adds it; SANA-FE's sum has none)",
                       float(busy.max(0).sum()) + sync + route))
        whole = other_rule_ns(model) if prof["core_overlap"] else model.cost("as_deployed")["time_ns"]
    d = model.acc.per_sample("as_deployed")["active_per_step"]
    return {"stages": stages, "spikefold_sum_rule_ns": whole,
            "rule_check": {n: (ours_rule[n], float(np.sum(d[n]))) for n in ours_rule if n != view.replay},
            "per_step": [(t, float(np.mean([a[timed, t].max() for a in per["measured"]])), float(mean_sample[:, t].max()),
                          float(busy[:, t].max()), model.layer_of[timed[int(busy[:, t].argmax())]]) for t in range(steps)]}


def split_table(split: dict) -> str:
    """time_split printed: each stage, its change, what is left to spikefold's figure."""
    lines = ["-- time, sum rule: SANA-FE's per-core work walked to spikefold's, one change at a time (a window: "
             "its own cores, sync left out) --"]
    prev = None
    for label, ns in split["stages"]:
        change = f" ({ns - prev:+,.0f})" if prev is not None else ""
        lines.append(f"  {ns:>12,.0f} ns{change:>12}  {label}")
        prev = ns
    lines.append(f"  spikefold's sum-rule time {split['spikefold_sum_rule_ns']:,.0f} ns; left unexplained "
                 f"{split['spikefold_sum_rule_ns'] - prev:+,.0f} ns")
    lines.append("  spikefold's rule rebuilt from SANA-FE's traces vs the simulator's active updates, per layer: " +
                 "; ".join(f"{n} {a:,.1f} / {b:,.1f}" for n, (a, b) in split["rule_check"].items()))
    lines.append("  per step, busiest core (ns): SANA-FE measured (mean of samples) / after the shift, mean sample / "
                 "spikefold (its layer): " + "; ".join(f"t{t} {a:,.0f} / {b:,.0f} / {c:,.0f} ({n})"
                                                       for t, a, b, c, n in split["per_step"]))
    return "\n".join(lines)
