"""Lower a spikefold network (models/) to a `compile.graph.Graph`, one node per layer.

The walk is structural: it knows the building blocks of `models.layers` and
the neurons of `models.neurons`, and names each node after the module it came
from (`body.3.conv1.0.module.0` becomes node `body_3_conv1_0_0`, with the full
path kept in `node.source`).  Anything else is refused with `UnsupportedModule`,
whose message names the module's class and its path in the model.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from spikefold.compile.graph import Graph
from spikefold.compile.nodes import (SMA, AvgPool2d, BatchNorm, Conv2d, Flatten, FstaLIF, Input, LIF, Linear,
                           Output, StaaLIF)
from spikefold.compile.passes.fold_batchnorm import scale_shift
from spikefold.models.fsta import FSTALIF
from spikefold.models.sma import SMAConvBNSpike
from spikefold.models.layers import BasicBlock, Classifier, SpikingNet, TimeDistributed
from spikefold.models.lif import LIF as TorchLIF
from spikefold.models.staa_lif import STAALIF


class UnsupportedModule(ValueError):
    """str(e): one line naming the module's class and its path in the model."""


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy().copy()


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class _Tracer:
    def __init__(self):
        self.nodes: dict = {}
        self.edges: list = []

    def add(self, path: str, node, srcs) -> str:
        name = path.replace(".module.", ".").replace(".", "_") or "node"
        base, i = name, 1
        while name in self.nodes:
            i += 1
            name = f"{base}_{i}"
        self.nodes[name] = node
        self.edges += [(s, name) for s in srcs]
        return name

    def shape(self, name: str) -> tuple:
        return self.nodes[name].shape

    # each method: (module, path, source node names) -> output node names
    def lower(self, m: nn.Module, path: str, srcs: list[str]) -> list[str]:
        if isinstance(m, (nn.Sequential,)):
            for name, child in m.named_children():
                srcs = self.lower(child, f"{path}.{name}" if path else name, srcs)
            return srcs
        if isinstance(m, TimeDistributed):
            return self.lower(m.module, f"{path}.module", srcs)
        if isinstance(m, nn.Identity):
            return srcs
        if isinstance(m, BasicBlock):
            main = self.lower(m.conv2, f"{path}.conv2", self.lower(m.conv1, f"{path}.conv1", srcs))
            short = self.lower(m.shortcut, f"{path}.shortcut", srcs)
            return self.lower(m.neuron, f"{path}.neuron", main + short)
        if isinstance(m, Classifier):
            c, *hw = self.shape(srcs[0])
            if m.global_pool:
                srcs = [self.add(f"{path}.pool", AvgPool2d(tuple(hw), (c, 1, 1), f"{path}"), srcs)]
            x = [self.add(f"{path}.flatten", Flatten((int(np.prod(self.shape(srcs[0]))),), path), srcs)]
            if m.hidden is not None:
                x = self.lower(m.neuron, f"{path}.neuron", self.lower(m.hidden, f"{path}.hidden", x))
            return self.lower(m.fc, f"{path}.fc", x)
        if isinstance(m, nn.Conv2d):
            return [self.conv(m, path, srcs)]
        if isinstance(m, nn.BatchNorm2d):
            return [self.add(path, self.batchnorm(m, path, self.shape(srcs[0])), srcs)]
        if isinstance(m, nn.AvgPool2d):
            k, s = _pair(m.kernel_size), _pair(m.stride if m.stride is not None else m.kernel_size)
            if k != s or _pair(m.padding) != (0, 0) or m.ceil_mode:
                raise UnsupportedModule(f"{path}: AvgPool2d with stride != kernel, padding or "
                                        f"ceil_mode is not supported")
            c, h, w = self.shape(srcs[0])
            if h % k[0] or w % k[1]:
                raise UnsupportedModule(f"{path}: AvgPool2d kernel {k} does not tile a {h}x{w} map")
            return [self.add(path, AvgPool2d(k, (c, h // k[0], w // k[1]), path), srcs)]
        if isinstance(m, nn.Linear):
            bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_features)
            if self.shape(srcs[0]) != (m.in_features,):
                raise UnsupportedModule(f"{path}: Linear expects {m.in_features} features, "
                                        f"gets shape {self.shape(srcs[0])}")
            return [self.add(path, Linear(_np(m.weight), bias, (m.out_features,), path), srcs)]
        if isinstance(m, SMAConvBNSpike):
            return self.lower(m.lif, f"{path}.lif", [self.add(path, self.sma(m, path, srcs), srcs)])
        if isinstance(m, FSTALIF):
            shape = self.shape(srcs[0])
            node = FstaLIF(np.full(shape[0], float(m.decay)), np.ones(shape[0]), float(m.v_th), shape, path)
            return [self.add(path, node, srcs)]
        if isinstance(m, STAALIF):
            return [self.add(path, self.staa(m, path, self.shape(srcs[0])), srcs)]
        if isinstance(m, TorchLIF):
            shape = self.shape(srcs[0])
            return [self.add(path, LIF(*self.lif(m, shape), float(m.v_th), shape, path), srcs)]
        raise UnsupportedModule(f"{path or '<model>'}: {type(m).__name__} is not supported by compile/")

    def conv(self, m: nn.Conv2d, path: str, srcs) -> str:
        return self.add(path, self.conv_node(m, path, self.shape(srcs[0])), srcs)

    @staticmethod
    def conv_node(m: nn.Conv2d, path: str, in_shape: tuple) -> Conv2d:
        if m.groups != 1 or _pair(m.dilation) != (1, 1) or m.padding_mode != "zeros" \
                or isinstance(m.padding, str):
            raise UnsupportedModule(f"{path}: Conv2d with groups, dilation, string padding or "
                                    f"non-zero padding mode is not supported")
        c, h, w = in_shape
        if c != m.in_channels:
            raise UnsupportedModule(f"{path}: Conv2d expects {m.in_channels} channels, gets {c}")
        k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
        out = (m.out_channels, (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1)
        bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_channels)
        return Conv2d(_np(m.weight), bias, s, p, out, path)

    def batchnorm(self, m: nn.BatchNorm2d, path: str, shape: tuple) -> BatchNorm:
        if m.running_mean is None:
            raise UnsupportedModule(f"{path}: BatchNorm2d without running statistics is not supported")
        return BatchNorm(_np(m.running_mean), _np(m.running_var),
                         _np(m.weight) if m.affine else np.ones(m.num_features),
                         _np(m.bias) if m.affine else np.zeros(m.num_features), float(m.eps), shape, path)

    @staticmethod
    def lif(m: TorchLIF, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
        """(leak, gain), each (C,), of a plain LIF module."""
        mm, nn_ = m.coefficients(torch.zeros(1, *shape))
        return tuple(np.broadcast_to(np.asarray(_as_np(a), dtype=np.float64).reshape(-1), (shape[0],)).copy()
                     for a in (mm, nn_))

    def sma(self, m: SMAConvBNSpike, path: str, srcs) -> SMA:
        """One SMA node for the unit's conv, SMA and BatchNorm (branch BatchNorms folded)."""
        conv = self.conv_node(m.conv.module, f"{path}.conv", self.shape(srcs[0]))
        weights, scales, shifts, leaks, gains, v_th = [], [], [], [], [], []
        for i, branch in enumerate(m.sma.branches):
            seq, lif = branch[0].module, branch[1]
            if not isinstance(lif, TorchLIF) or seq[0].bias is not None:
                raise UnsupportedModule(f"{path}.sma.branches.{i}: only bias-free convs into plain LIFs are supported")
            bc = seq[0]
            if _pair(bc.stride) != (1, 1) or _pair(bc.padding) != (bc.kernel_size[0] // 2,) * 2 or bc.groups != 1:
                raise UnsupportedModule(f"{path}.sma.branches.{i}: a branch conv must keep the map's size")
            scale, shift = scale_shift(self.batchnorm(seq[1], f"{path}.sma.branches.{i}.0.1", conv.shape))
            weights.append(_np(bc.weight))
            scales.append(scale)
            shifts.append(shift)
            leak, gain = self.lif(lif, conv.shape)
            leaks.append(leak)
            gains.append(gain)
            v_th.append(float(lif.v_th))
        bn_scale, bn_shift = scale_shift(self.batchnorm(m.bn.module, f"{path}.bn", conv.shape))
        return SMA(conv.weight, conv.bias, conv.stride, conv.padding, tuple(weights), np.stack(scales),
                   np.stack(shifts), np.stack(leaks), np.stack(gains), np.array(v_th), bn_scale, bn_shift,
                   self.shape(srcs[0]), conv.shape, path)

    def staa(self, m: STAALIF, path: str, shape: tuple) -> StaaLIF:
        return StaaLIF(leak=_np(m.m), gain=_np(m.n), v_th=float(m.v_th), shape=shape,
                       pos=_np(m.pos) if m.pos is not None else None,
                       gc=m.gc_in is not None, sa=m.sa is not None,
                       drive=_np(m.drive) if m.static else np.zeros(m.channels), source=path)


def _as_np(v):
    return _np(v) if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)


def trace(model: SpikingNet, input_shape: tuple) -> Graph:
    """The graph of `model` (eval-mode semantics) for inputs of one sample's shape (C, H, W)."""
    if not isinstance(model, SpikingNet):
        raise UnsupportedModule(f"<model>: {type(model).__name__} is not a spikefold SpikingNet")
    t = _Tracer()
    src = t.add("input", Input(tuple(int(v) for v in input_shape)), [])
    outs = t.lower(model.head, "head", t.lower(model.body, "body", [src]))
    t.add("output", Output(t.shape(outs[0])), outs)
    return Graph.build(t.nodes, t.edges, {"timesteps": model.cfg.timesteps})
