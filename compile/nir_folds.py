"""Folds the NIR reader (compile/nir_read.py) applies to the graph it read, where a NIR node has
no chip form of its own but an exact one together with its neighbours: sum pools into the next
weights, pools of any stride and padding composed into the next conv or Flatten -> Affine, and a
hidden LI as the next neurons' synaptic current."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from spikefold.compile.nir_format import NIRFormatError
from spikefold.compile.nodes import LI, Conv2d, Flatten, LIF, Linear, Output

def fold_sum_pools(out: dict, edges: list, sum_pools: dict) -> None:
    """Each SumPool2d's window k0 k1 multiplied into the Conv2d or Linear after it (through Flatten)."""
    for name, factor in sum_pools.items():
        for succ in [b for a, b in edges if a == name]:
            while isinstance(out[succ], Flatten):
                (succ,) = [b for a, b in edges if a == succ]
            if not isinstance(out[succ], (Conv2d, Linear)):
                raise NIRFormatError(f"node {name}: SumPool2d must feed a Conv2d or (Flatten and) Affine")
            out[succ] = replace(out[succ], weight=out[succ].weight * factor)


def fold_pools(out: dict, edges: list, pools: dict) -> list:
    """Each pool read as a fixed depthwise conv (`_pool`) composed into what it feeds, exactly; the
    edges without the pool.  A Conv2d after it becomes one conv (kernel (K - 1) s + k, stride s S,
    padding p + P s), exact where the next conv's padding reads only pooled positions whose window
    lies wholly outside the input (its padding must stay zero): the first window before the input
    (k - 1 < s + p) and the first after it (Ho s - p >= H); a Flatten and Affine after it take
    the pool into their weights (W P, P's transpose applied by conv_transpose2d), always exact."""
    import torch
    import torch.nn.functional as F
    for name, (in_shape, kind) in pools.items():
        pool = out.pop(name)
        (pred,) = [a for a, b in edges if b == name]
        k, s, p = pool.weight.shape[-2:], pool.stride, pool.padding
        pk = pool.weight[0, 0, 0, 0]
        for succ in [b for a, b in edges if a == name]:
            node = out[succ]
            if isinstance(node, Conv2d) and succ not in pools:
                k2, s2, p2 = node.weight.shape[-2:], node.stride, node.padding
                for i in range(2):
                    ho, h = pool.shape[i + 1], in_shape[i + 1]
                    reach = (node.shape[i + 1] - 1) * s2[i] - p2[i] + k2[i] - 1
                    if (p2[i] and k[i] - 1 >= s[i] + p[i]) or (reach >= ho and ho * s[i] - p[i] < h):
                        raise NIRFormatError(
                            f"node {name}: {kind} (kernel {tuple(k)}, stride {tuple(s)}, padding {tuple(p)}) into "
                            f"{succ}'s padding {tuple(p2)}: the composed convolution would see input the pool "
                            f"leaves out at the border (no exact conv; pad the input or drop the next padding)")
                size = [(k2[i] - 1) * s[i] + k[i] for i in range(2)]
                w = np.zeros((*node.weight.shape[:2], *size))
                for a in range(k2[0]):
                    for b in range(k2[1]):
                        w[:, :, a * s[0]:a * s[0] + k[0], b * s[1]:b * s[1] + k[1]] += \
                            node.weight[:, :, a:a + 1, b:b + 1] * pk
                out[succ] = replace(node, weight=w, stride=(s[0] * s2[0], s[1] * s2[1]),
                                    padding=(p[0] + p2[0] * s[0], p[1] + p2[1] * s[1]))
            elif isinstance(node, Flatten) and len(fcs := [b for a, b in edges if a == succ]) == 1 \
                    and isinstance(out[fcs[0]], Linear):
                fc = out[fcs[0]]
                rows = torch.as_tensor(fc.weight.reshape(fc.weight.shape[0], *pool.shape), dtype=torch.float64)
                extra = tuple(in_shape[i + 1] + 2 * p[i] - k[i] - (pool.shape[i + 1] - 1) * s[i] for i in range(2))
                kern = torch.full((in_shape[0], 1, *k), float(pk), dtype=torch.float64)
                back = F.conv_transpose2d(rows, kern, stride=s, padding=p, output_padding=extra, groups=in_shape[0])
                out[fcs[0]] = replace(fc, weight=back.reshape(fc.weight.shape[0], -1).numpy())
                out[succ] = Flatten((int(np.prod(in_shape)),))
            else:
                raise NIRFormatError(f"node {name}: a {kind} with stride != kernel or padding must feed a Conv2d "
                                     f"or a Flatten and Affine (it folds into their weights)")
        edges = [(pred if a == name else a, b) for a, b in edges if b != name]
    return edges


def fold_hidden_li(out: dict, edges: list) -> list:
    """A leaky integrator between synapses (A -> LI -> W -> neurons, NIR's LI anywhere but the
    output) as the synaptic current of the neurons after it, exactly: with one leak M for every LI
    unit (so the filter commutes with W), W v[t] = M W v[t-1] + W N (A x[t] + b_A) + W rest, which
    is a current i[t] = M i[t-1] + I[t] fed by one layer (W N A, W (N b_A + rest)); W's own bias
    enters v (the neurons' bias, times their gain).  Refused where no such form exists: a leak that
    differs between units, neurons that already have a current (CubaLIF: two filters in a row) or
    another input (the current would filter it too), an LI fed or read by anything but one Affine
    each."""
    for name in [n for n, node in out.items() if isinstance(node, LI)]:
        succs = [b for a, b in edges if a == name]
        if any(isinstance(out[b], Output) for b in succs):
            continue                                   # the readout: integrated on the host
        preds = [a for a, b in edges if b == name]
        why = None
        if len(preds) != 1 or not isinstance(out[preds[0]], Linear) or len(succs) != 1 \
                or not isinstance(out[succs[0]], Linear):
            why = "it must be fed by one Affine and feed one Affine"
        else:
            a_name, w_name = preds[0], succs[0]
            after = [b for a, b in edges if a == w_name]
            li, a_layer, w_layer = out[name], out[a_name], out[w_name]
            if len(after) != 1 or not isinstance(out[after[0]], LIF) or out[after[0]].syn_leak is not None:
                why = "the Affine after it must feed neurons without a current of their own (LIF or IF)"
            elif [a for a, b in edges if b == after[0]] != [w_name]:
                why = ("the neurons after it must have no other input (the current would filter that input "
                       "too)")
            elif not np.all(li.leak == li.leak[0]):
                why = "its leak differs between units, and only one leak commutes with the next weights"
            elif a_layer.delay or w_layer.delay or a_layer.bias_delay or w_layer.bias_delay or \
                    len([b for a, b in edges if a == a_name]) != 1 or \
                    len([b for a, b in edges if b == w_name]) != 1:
                why = "the Affine layers beside it must be plain (no delays, no other inputs or outputs)"
        if why:
            raise NIRFormatError(f"node {name}: an LI between synapses has an exact chip form only as the next "
                                 f"neurons' synaptic current; {why} (its output is graded, and Lava's "
                                 f"bit-accurate LIF sends only binary spikes)")
        neuron = after[0]
        lif = out[neuron]
        rest = np.zeros(li.shape) if li.bias is None else li.bias
        weight = w_layer.weight @ (li.gain[:, None] * a_layer.weight)
        bias = w_layer.weight @ (li.gain * a_layer.bias + rest)
        extra = lif.gain * w_layer.bias if lif.gain.shape == w_layer.bias.shape else None
        if extra is None:
            raise NIRFormatError(f"node {name}: the neurons after it are not flat")
        out[w_name] = replace(w_layer, weight=weight, bias=bias)
        out[neuron] = replace(lif, syn_leak=np.full(lif.shape[0], float(li.leak[0])),
                              bias=extra if lif.bias is None else lif.bias + extra)
        src = [a for a, b in edges if b == a_name]
        edges = [(a, w_name) for a in src] + [(a, b) for a, b in edges if name not in (a, b) and a_name not in (a, b)]
        del out[name], out[a_name]
    return edges
