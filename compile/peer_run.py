"""Run a NIR file in a peer framework's own simulator and save what each layer emitted.

    python compile/peer_run.py PEER model.nir inputs.pt out.pt [--dt SECONDS]

PEER: snntorch | norse | spikingjelly | sinabs.  inputs.pt holds {"x": (B, C, H, W) float,
"timesteps": T}: the same input every step (direct encoding), or with "sequence": True, x
(B, T, C, H, W), frame t on step t (event frames); float64 x runs the peer's modules in float64.
out.pt gets {"output": (T, B, K) in x's dtype, "spikes": {LIF node: (T, B, *shape) bool}}, from forward hooks on the modules the
peer's importer built for the file's LIF nodes.

Standalone on purpose (numpy, torch, nir and the peer only): it also runs inside a peer's own
virtual environment (bench/nir_peers.py), where spikefold's dependencies may not be.  Each
peer is driven the way its documentation says, with only these interventions, each a fault
of the peer's importer named where it is applied:
  * snnTorch: reset_mem() on every Leaky before a batch (the imported Leaky keeps its membrane
    inside the module and hands back no state);
  * Sinabs: SingleSpike and MembraneReset set on every imported LIF (its from_nir ignores
    v_reset and gives every LIF multi-spike output with subtractive reset);
  * in a float64 run, each layer with a weight casts its input to the weight's dtype (snnTorch's
    spike function returns float32 0/1 spikes, which float64 holds exactly).
"""
from __future__ import annotations

import argparse
import logging

import nir
import torch

PEERS = ("snntorch", "norse", "spikingjelly", "sinabs")


def load(peer: str, path: str, dt: float | None, batch: int, timesteps: int) -> torch.nn.Module:
    """The peer's module for the NIR file, built by the peer's own importer."""
    graph = nir.read(path)
    kw = {} if dt is None else {"dt": dt}
    if peer == "snntorch":
        from snntorch.import_nir import import_from_nir
        return import_from_nir(graph)
    if peer == "norse":
        from norse.torch import from_nir
        logging.disable(logging.WARNING)      # Norse warns that r is ignored; the forms know
        return from_nir(graph, **kw)
    if peer == "spikingjelly":
        from spikingjelly.activation_based.nir_exchange import import_from_nir
        return import_from_nir(graph, **kw)
    if peer == "sinabs":
        import sinabs.layers as sl
        from sinabs.activation import MembraneReset, SingleSpike
        from sinabs.nir import from_nir
        net = from_nir(graph, batch_size=batch, num_timesteps=timesteps)
        for m in net.modules():
            if isinstance(m, sl.LIF):
                m.spike_fn, m.reset_fn = SingleSpike, MembraneReset()
        return net
    raise SystemExit(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")


def lif_modules(net: torch.nn.Module, graph: nir.NIRGraph) -> dict[str, torch.nn.Module]:
    """{LIF node name: the peer's module for it} (importers name submodules after the nodes)."""
    modules = dict(net.named_modules())
    out = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.LIF):
            hits = [m for k, m in modules.items() if k.split(".")[-1] == name.replace(".", "_")]
            if not hits:
                raise SystemExit(f"no module for LIF node {name} in the {type(net).__name__} the peer built")
            out[name] = hits[0]
    return out


def run(peer: str, path: str, x: torch.Tensor, timesteps: int, dt: float | None = None,
        sequence: bool = False) -> dict:
    B = len(x)
    frame = (lambda t: x[:, t]) if sequence else (lambda t: x)
    sample = x.shape[2:] if sequence else x.shape[1:]
    if x.dtype == torch.float64:   # the peer in double, as our side (compile/peer_check.py)
        torch.set_default_dtype(torch.float64)
    net = load(peer, path, dt, B, timesteps).to(x.dtype)
    if x.dtype == torch.float64:   # snnTorch's spike function returns float32 ((input_ > 0).float())
        for m in net.modules():
            if isinstance(getattr(m, "weight", None), torch.Tensor):
                m.register_forward_pre_hook(lambda m, args: tuple(
                    a.to(m.weight.dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args))
    graph = nir.read(path)
    seen: dict[str, list] = {name: [] for name in lif_modules(net, graph)}

    def keep(name):
        def hook(_module, _inputs, out):
            seen[name].append((out[0] if isinstance(out, tuple) else out).detach() > 0)
        return hook

    for name, m in lif_modules(net, graph).items():
        m.register_forward_hook(keep(name))
    with torch.no_grad():
        if peer == "sinabs":                  # whole sequences, (B*T, ...) sample-major
            seq = (x if sequence else x.unsqueeze(1).expand(B, timesteps, *sample)).reshape(B * timesteps, *sample)
            y = net(seq)
            y = y[0] if isinstance(y, tuple) else y
            out = y.reshape(B, timesteps, -1).transpose(0, 1)
            spikes = {k: v[0].reshape(B, timesteps, *v[0].shape[1:]).transpose(0, 1) for k, v in seen.items()}
        else:
            if peer == "snntorch":
                import snntorch as snn
                for m in net.modules():
                    if isinstance(m, snn.Leaky):
                        m.reset_mem()
            state, steps = None, []
            for t in range(timesteps):
                y, state = net(frame(t)) if state is None else net(frame(t), state)
                steps.append(y)
            out = torch.stack(steps)
            spikes = {k: torch.stack(v) for k, v in seen.items()}
    return {"output": out.to(x.dtype), "spikes": spikes}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("peer", choices=PEERS)
    p.add_argument("nir_file")
    p.add_argument("inputs")
    p.add_argument("output")
    p.add_argument("--dt", type=float, default=None, help="seconds per step handed to the importer "
                                                          "(default: the peer's own)")
    a = p.parse_args(argv)
    data = torch.load(a.inputs, weights_only=True)
    torch.save(run(a.peer, a.nir_file, data["x"], int(data["timesteps"]), a.dt, bool(data.get("sequence", False))),
               a.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
