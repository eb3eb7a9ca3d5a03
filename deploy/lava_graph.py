"""A `chip.program.Program` as a Lava process graph, run in Lava's bit-accurate simulator.

Processes: a RingBuffer source of the host layer's integer currents into the first
LIF's a_in; one LIF per neuron layer (per-neuron du, dv, vth, bias arrays); one
Dense, Sparse or Conv per synapse layer (several into one LIF are summed at its a_in, which
is how residual additions run); RingBuffer sinks for the readout activations and,
optionally, every layer's spikes.  Layouts: Lava tensors are (W, H, C), Conv
weights (C_out, kW, kH, C_in) and Lava's Conv computes a true convolution, so
kernels are flipped to give the cross-correlation of the program; Dense weights
reading a (W, H, C) layer get their columns permuted from (C, H, W) order.

Two ways to run samples, Loihi2SimCfg(select_tag="fixed_pt") selecting PyLifModelBitAcc (or
PyLifResetModelBitAcc), PyDenseModelBitAcc, PySparseModelBitAcc and PyConvModelFixed:

    run_lava         one sample at a time, as deployed: per sample the host resets every u, v and
                     synaptic buffer, loads the currents, and switches each layer's bias on at its
                     start step (program.py explains why), pausing the run at those steps.
    run_lava_stream  samples back to back, as lava-dl runs a test set: every layer a LIFReset
                     that zeroes its own u and v every `period` = T steps, on the step its
                     sample's data first reaches it (its `start`, plus k T for sample k), so the
                     host never resets anything and a bias is simply on (the reset at a window's
                     start does what the start schedule does).  Lava's process time_step counts
                     from 1 on the first step, so a layer starting on step s resets at
                     time_step % T == (s + 1) % T.  Sample k's readout is steps
                     depth + k T .. depth + k T + T - 1.  Identical per sample to run_lava for a
                     feed-forward program (`Program.why_not_streamed`): a spike arriving on a layer's reset step
                     is counted after the reset, which is the new sample's first input on every
                     synapse but a recurrent one, whose input there is the previous sample's last
                     spikes.
    run_netx_stream  a lava-dl netx file (deploy/netx.py) streamed the same way by netx's own
                     Network(reset_interval, reset_offset), as its users run it.
"""
from __future__ import annotations

import os
import signal
import warnings
from contextlib import contextmanager

import numpy as np
import torch
from scipy.sparse import SparseEfficiencyWarning, csr_matrix

from spikefold.deploy.lava_compat import import_netx, require_lava

require_lava()                   # one line naming the `lava` extra when Lava is absent
# Lava's DelaySparse model assigns into a CSR matrix as it runs; scipy's advice to use another
# format concerns Lava's code, not the user's network
warnings.filterwarnings("ignore", category=SparseEfficiencyWarning)
from lava.magma.core.run_conditions import RunSteps  # noqa: E402
from lava.magma.core.run_configs import Loihi2SimCfg  # noqa: E402
from lava.proc.conv.process import Conv  # noqa: E402
from lava.proc.dense.process import DelayDense, Dense  # noqa: E402
from lava.proc.io.sink import RingBuffer as Sink  # noqa: E402
from lava.proc.io.source import RingBuffer as Source  # noqa: E402
from lava.proc.lif.process import LIF, LIFReset  # noqa: E402
from lava.proc.sparse.process import DelaySparse, Sparse  # noqa: E402

from spikefold.chip.program import Program  # noqa: E402
from spikefold.chip.host import host_currents  # noqa: E402
from spikefold.common.atomic import signals_held  # noqa: E402

_QUIET_CHILDREN = 0          # > 0 while a Lava runtime may fork its processes (`running`, nested)
try:                         # resolved here, not in the child: a dlopen after fork is not safe
    import ctypes
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def _quiet_child():
    """In a process Lava forks: Ctrl-C and SIGTERM are the parent's to handle (it tears the whole
    runtime down), and the child dies with its parent should the parent be killed outright."""
    if not _QUIET_CHILDREN:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)                                      # PR_SET_PDEATHSIG


os.register_at_fork(after_in_child=_quiet_child)


def _tear_down(proc) -> None:
    """End `proc`'s runtime without asking its processes anything (they may be mid-step, or dead):
    kill each actor, then let the shared-memory manager unlink its segments, so that no process and
    no /dev/shm segment is left behind.  Lava's own Runtime.stop (and its __del__) would wait
    forever for replies from processes that are gone."""
    import multiprocessing as mp
    rt = getattr(proc, "runtime", None)
    infra = getattr(rt, "_messaging_infrastructure", None)
    actors = [a for a in getattr(infra, "actors", ()) if a._parent_pid == os.getpid()]
    for a in actors:
        if a.is_alive():
            a.kill()
    for a in actors:
        mp.Process.join(a, 5)
    for stop in (getattr(infra, "smm", None), getattr(rt, "_watchdog_manager", None)):
        try:
            stop.shutdown() if hasattr(stop, "shutdown") else stop.stop()
        except Exception:       # noqa: BLE001 - a manager already gone has nothing left to end
            pass
    if rt is not None:
        rt._is_started = rt._is_running = False


def start(proc, run_cfg) -> None:
    """Compile `proc`'s graph for `run_cfg` and start Lava's runtime (its processes), once, as the
    first proc.run would (call it just before that run: Vars' `init` values are read here).
    Ctrl-C and SIGTERM are held while the runtime forks its processes and waits for each to
    report it is built (seconds): arriving inside multiprocessing's bookkeeping (its at-fork
    hooks, a Finalize half made) they would be swallowed, or leave a traceback at exit.  A second
    Ctrl-C acts at once (spikefold.common.cli.signals_deferred), should a process never report."""
    if proc.runtime is None:
        executable = proc.compile(run_cfg)
        with signals_held():
            proc.create_runtime(executable=executable)


@contextmanager
def running(proc):
    """A block that runs (and reads) `proc`'s Lava process graph (started by `start`): Lava's
    runtime stopped when the block ends, torn down at once (`_tear_down`) when it raises, an
    error, Ctrl-C or SIGTERM alike, so a command that is interrupted ends within seconds with none
    of Lava's processes left."""
    global _QUIET_CHILDREN
    _QUIET_CHILDREN += 1
    try:
        yield proc
        if proc.runtime is not None and proc.runtime._is_started:
            proc.stop()
    except BaseException:
        with signals_held():
            _tear_down(proc)
        raise
    finally:
        _QUIET_CHILDREN -= 1


def to_lava(a: np.ndarray) -> np.ndarray:
    """(C, H, W, ...) -> (W, H, C, ...); (F, ...) unchanged."""
    return a if a.ndim < 3 else np.swapaxes(a, 0, 2)


def from_lava_steps(data: np.ndarray) -> np.ndarray:
    """A sink's (W, H, C, steps) or (F, steps) buffer -> (steps, C, H, W) or (steps, F)."""
    d = np.moveaxis(data, -1, 0)
    return d.transpose(0, *range(d.ndim - 1, 0, -1))


def source_data(program: Program, currents: np.ndarray) -> np.ndarray:
    """Host currents (T or 1, B, *host_out_shape) -> a RingBuffer's (W, H, C, B T + depth) data:
    the B samples back to back, T steps each (a static input repeated), zero after the last."""
    T = program.timesteps
    c = np.broadcast_to(currents, (T, *currents.shape[1:]))
    B = c.shape[1]
    data = np.zeros((*lava_shape(program.host.out_shape), B * T + program.depth))
    data[..., : B * T] = to_lava(np.moveaxis(c.swapaxes(0, 1).reshape(B * T, *c.shape[2:]), 0, -1))
    return data


def _on_nonzeros(w: csr_matrix, delay: int) -> csr_matrix:
    """A delay for each synapse of w, as a matrix of w's own sparsity: given a bare int, Lava's
    builder fills a CSR of every one of the shape's entries."""
    d = w.copy().astype(int)
    d.data[:] = delay
    return d


def lava_shape(shape: tuple) -> tuple:
    return tuple(shape[::-1]) if len(shape) == 3 else tuple(shape)


def dense_columns(in_shape: tuple) -> np.ndarray:
    """perm[j]: our (C, H, W)-order input index of Lava's flattened (W, H, C) index j."""
    return np.arange(int(np.prod(in_shape))).reshape(in_shape).transpose(*range(len(in_shape))[::-1]).reshape(-1)


class LavaNetwork:
    """The program as Lava processes; `period` None: one sample at a time (LIF, the host's resets
    and bias schedule), else streamed (LIFReset every `period` steps, biases always on) over
    `steps` steps."""

    def __init__(self, program: Program, record_spikes: bool = False, period: int | None = None,
                 steps: int | None = None):
        p = self.p = program
        if p.host.kind == "bias" or any(n.reset_interval for n in p.neurons.values()):
            raise ValueError("a program read from a netx file (its input held in a layer's bias, its layers' own "
                             "resets) runs in Lava as lava-dl's netx Network on that file")
        steps = steps or p.steps
        self.source = Source(data=np.zeros((*lava_shape(p.host.out_shape), steps)))
        self.lif, self.syn, self.spike_sinks = {}, {}, {}
        for name, n in p.neurons.items():
            common = dict(shape=lava_shape(n.shape), du=to_lava(n.du), dv=to_lava(n.dv), vth=to_lava(n.vth),
                          bias_exp=to_lava(n.bias_exp), name=name)
            if period is None:
                self.lif[name] = LIF(bias_mant=np.zeros(lava_shape(n.shape), np.int64), **common)
            else:
                self.lif[name] = LIFReset(bias_mant=to_lava(n.bias_mant).astype(float), reset_interval=period,
                                          reset_offset=(n.start + 1) % period, **common)
            if record_spikes:
                self.spike_sinks[name] = Sink(shape=lava_shape(n.shape), buffer=steps)
                self.lif[name].s_out.connect(self.spike_sinks[name].a_in)
        self.source.s_out.connect(self.lif[p.host.dst].a_in)
        for name, s in p.synapses.items():
            src = self.lif[s.src].s_out
            if s.kind == "conv":
                w = s.weight[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)   # flipped, (C_out, kW, kH, C_in)
                proc = Conv(weight=np.ascontiguousarray(w), input_shape=lava_shape(s.in_shape),
                            padding=tuple(s.padding[::-1]), stride=tuple(s.stride[::-1]), name=name)
            else:
                w = s.weight[:, dense_columns(s.in_shape)] if len(s.in_shape) == 3 else s.weight
                if s.kind == "sparse":
                    w = csr_matrix(w)
                    proc = Sparse(weights=w, weight_exp=s.weight_exp, name=name) if not s.delay else \
                        DelaySparse(weights=w, delays=_on_nonzeros(w, s.delay), weight_exp=s.weight_exp, name=name)
                else:
                    proc = Dense(weights=w, weight_exp=s.weight_exp, name=name) if not s.delay else \
                        DelayDense(weights=w, delays=np.full(w.shape, s.delay), weight_exp=s.weight_exp, name=name)
                if len(s.in_shape) == 3:
                    src = src.flatten()
            src.connect(proc.s_in)
            dst = self.lif[s.dst].a_in if s.dst in self.lif else None
            if dst is None:          # every readout synapse into one sink: Lava sums at its a_in
                if not hasattr(self, "readout_sink"):
                    self.readout_sink = Sink(shape=(s.out_shape[0],), buffer=steps)
                dst = self.readout_sink.a_in
            proc.a_out.connect(dst)
            self.syn[name] = proc
        self.cfg = Loihi2SimCfg(select_tag="fixed_pt")
        self.started = False

    def _run(self, steps: int):
        start(self.source, self.cfg)
        self.source.run(condition=RunSteps(num_steps=steps), run_cfg=self.cfg)
        self.started = True

    def _assign(self, var, value: np.ndarray):
        """Before the first run a Var takes an initial value; afterwards it is set in the runtime."""
        if self.started:
            var.set(value)
        else:
            var.init = value

    def _reset(self):
        """Every u, v, bias and synaptic buffer back to zero, between samples."""
        p = self.p
        for name, n in p.neurons.items():
            z = np.zeros(lava_shape(n.shape))
            self.lif[name].u.set(z)
            self.lif[name].v.set(z)
            self.lif[name].bias_mant.set(z)
        for name, s in p.synapses.items():
            buf = self.syn[name].a_buf if s.kind == "conv" else self.syn[name].a_buff   # Delay*: all delays
            buf.set(np.zeros(buf.shape))

    def run_sample(self, currents: np.ndarray) -> tuple[np.ndarray, dict]:
        """currents (T or 1, *host_out_shape) int -> (readout (T, K) int, {layer: spikes (steps, *shape)})."""
        p = self.p
        if self.started:
            self._reset()
        self._assign(self.source.data, source_data(p, currents[:, None]))
        done = 0
        for start in sorted({n.start for n in p.neurons.values()}):
            if start > done:
                self._run(start - done)
                done = start
            for name, n in p.neurons.items():
                if n.start == start and np.any(n.bias_mant):
                    self._assign(self.lif[name].bias_mant, to_lava(n.bias_mant).astype(float))
        self._run(p.steps - done)
        ro = self.readout_sink.data.get()[:, p.depth: p.depth + p.timesteps].T
        spikes = {k: from_lava_steps(s.data.get()) for k, s in self.spike_sinks.items()}
        return ro.astype(np.int64), spikes


def run_lava_stream(program: Program, x: torch.Tensor, record_spikes: bool = False):
    """The B samples of x streamed back to back (period T): readout activations (T, B, K) int64,
    sample k's from steps depth + k T on, and, if asked, each layer's spikes over its own window
    of each sample {layer: (T, B, *shape)} (the fast simulator's mode "window")."""
    why = program.why_not_streamed()
    if why:
        raise ValueError(f"this program cannot stream: {why}")
    p, T, B = program, program.timesteps, len(x)
    steps = B * T + p.depth
    net = LavaNetwork(program, record_spikes, period=T, steps=steps)
    net.source.data.init = source_data(p, host_currents(program, x).numpy())
    with running(net.source):
        net._run(steps)
        ro = net.readout_sink.data.get().T                    # (steps, K)
        spikes = {k: from_lava_steps(s.data.get()) for k, s in net.spike_sinks.items()}
    window = lambda a, first: np.stack([a[first + k * T: first + k * T + T] for k in range(B)], 1)
    return (torch.as_tensor(window(ro, p.depth).astype(np.int64)),
            {k: torch.as_tensor(window(v, p.neurons[k].start)) for k, v in spikes.items()})


def run_lava(program: Program, x: torch.Tensor, record_spikes: bool = False):
    """Readout activations (T, B, K) int64 and, if asked, spikes {layer: (steps, B, *shape)}."""
    currents = host_currents(program, x).numpy()
    net = LavaNetwork(program, record_spikes)
    outs, spikes = [], {k: [] for k in program.neurons} if record_spikes else {}
    with running(net.source):
        for b in range(currents.shape[1]):
            ro, sp = net.run_sample(currents[:, b])
            outs.append(ro)
            for k, v in sp.items():
                spikes[k].append(v)
    return (torch.as_tensor(np.stack(outs, 1)),
            {k: torch.as_tensor(np.stack(v, 1)) for k, v in spikes.items()})


def run_netx_stream(path, program, x):
    """lava-dl netx running the netx file `path` (deploy/netx.py write_netx of `program`) as users
    stream a test set: Network(reset_interval=T, reset_offset=1 as the file records), the host-fed
    layer in front as a LIFReset resetting on step 0 (offset 1), the B samples' currents back to
    back; the readout layer's v read at the end of each sample's window: (B, K) int (what
    simulate/netx_readout.py netx_readout(program, x, reset=True) computes)."""
    import h5py
    Network = import_netx().Network
    T, B = program.timesteps, len(x)
    with h5py.File(path, "r") as f:
        interval, offset = int(f.attrs["reset_interval"]), int(f.attrs["reset_offset"])
    if interval != T:
        raise ValueError(f"{path}: reset_interval {interval} is not the program's T = {T}")
    net = Network(net_config=str(path), reset_interval=interval, reset_offset=offset)
    src = Source(data=source_data(program, host_currents(program, x).numpy()))
    h = program.neurons[program.host.dst]
    front = LIFReset(shape=lava_shape(h.shape), du=to_lava(h.du), dv=to_lava(h.dv), vth=to_lava(h.vth),
                     bias_mant=to_lava(h.bias_mant), bias_exp=to_lava(h.bias_exp), reset_interval=T, reset_offset=1)
    src.s_out.connect(front.a_in)
    front.s_out.connect(net.inp)
    cfg, vs, done = Loihi2SimCfg(select_tag="fixed_pt"), [], 0
    with running(src):
        for b in range(B):                                   # pause at each sample's last readout step
            end = program.depth + (b + 1) * T
            start(src, cfg)
            src.run(condition=RunSteps(num_steps=end - done), run_cfg=cfg)
            done = end
            vs.append(np.asarray(net.layers[-1].neuron.v.get()).reshape(-1).copy())
    return np.stack(vs).astype(np.int64)


def run_netx_file(path, bias_whc: np.ndarray, steps: int, **network_args) -> list:
    """lava-dl's own netx Network(path, **network_args) (reset_interval, reset_offset) in Lava's
    bit-accurate simulator (Loihi2SimCfg, fixed_pt) for `steps` steps, one frame held as the input
    layer's bias mantissa (Lava's (W, H, C) layout, as lava-dl's PilotNet runs set it): per block,
    (its spikes (*Lava shape, steps) bool, u, v after the last step)."""
    net = import_netx().Network(net_config=str(path), **network_args)
    net.in_layer.neuron.bias_mant.init = bias_whc.astype(int)
    sinks = []
    for layer in net.layers:
        sinks.append(Sink(shape=layer.out.shape, buffer=steps))
        layer.out.connect(sinks[-1].a_in)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    with running(net):
        start(net, cfg)
        net.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
        return [(s.data.get().astype(bool), layer.neuron.u.get(), layer.neuron.v.get())
                for s, layer in zip(sinks, net.layers)]
