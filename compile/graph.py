"""An immutable dataflow graph of `compile.nodes`: what every pass takes and returns.

Nodes are kept in topological order (the order they were added); edges are
(source, target) name pairs and several edges into one node are summed.  The one
kind of edge that may point backwards goes into a neuron: a recurrent input, the
source's output of the previous step (`Graph.recurrent`).
A pass never mutates a graph: it builds a new one (`Graph.evolve`, `Graph.splice`,
`Graph.build`), so the input graph stays valid for comparisons.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType


@dataclass(frozen=True)
class Graph:
    nodes: MappingProxyType          # name -> node, in topological order
    edges: tuple                     # ((source, target), ...)
    meta: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def build(nodes: dict, edges, meta: dict | None = None) -> "Graph":
        edges = tuple((a, b) for a, b in edges)
        names = list(nodes)
        order = {n: i for i, n in enumerate(names)}
        for a, b in edges:
            if a not in order or b not in order:
                raise ValueError(f"edge ({a}, {b}) names a node that is not in the graph")
            if order[a] >= order[b] and not _is_neuron(nodes[b]):
                raise ValueError(f"edge ({a}, {b}) goes backwards: nodes must be topologically ordered "
                                 f"(only a neuron may take a recurrent input)")
        return Graph(MappingProxyType(dict(nodes)), edges, MappingProxyType(dict(meta or {})))

    def preds(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]

    def recurrent(self, name: str) -> list[str]:
        """The inputs of neuron `name` that come after it: recurrent edges, each carrying its
        source's output of the previous step."""
        order = list(self.nodes)
        return [a for a in self.preds(name) if order.index(a) >= order.index(name)]

    def forward_preds(self, name: str) -> list[str]:
        rec = self.recurrent(name)
        return [a for a in self.preds(name) if a not in rec]

    def succs(self, name: str) -> list[str]:
        return [b for a, b in self.edges if a == name]

    def of_type(self, *kinds) -> list[str]:
        return [n for n, node in self.nodes.items() if isinstance(node, kinds)]

    def evolve(self, changed: dict | None = None, meta: dict | None = None) -> "Graph":
        """A copy with some nodes replaced (same names, same edges) and metadata updated."""
        nodes = {n: (changed or {}).get(n, node) for n, node in self.nodes.items()}
        return Graph.build(nodes, self.edges, {**self.meta, **(meta or {})})

    def with_meta(self, **meta) -> "Graph":
        return self.evolve(meta=meta)

    def splice(self, removed: str, changed: dict | None = None) -> "Graph":
        """A copy without node `removed` (which must have one predecessor): its
        successors are fed by that predecessor instead.  `changed` replaces nodes."""
        (pred,) = self.preds(removed)
        edges = [(pred if a == removed else a, b) for a, b in self.edges if b != removed]
        nodes = {n: (changed or {}).get(n, node) for n, node in self.nodes.items() if n != removed}
        return Graph.build(nodes, edges, dict(self.meta))


def update(node, **changes):
    """A copy of a frozen node dataclass with some fields changed."""
    return replace(node, **changes)


def unique_name(graph_nodes, base: str) -> str:
    name, i = base, 1
    while name in graph_nodes:
        i += 1
        name = f"{base}_{i}"
    return name


def with_notes(graph: "Graph", changed: dict, notes: list[dict]) -> "Graph":
    """graph.evolve(changed), appending `notes` to the fold log in meta["folds"]."""
    return graph.evolve(changed, {"folds": tuple(graph.meta.get("folds", ())) + tuple(notes)})


def _is_neuron(node) -> bool:
    from spikefold.compile.nodes import LIF
    return isinstance(node, LIF)
