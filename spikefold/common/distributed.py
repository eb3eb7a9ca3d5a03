"""One command over several processes or machines, with torch.distributed as torchrun starts it.

    torchrun --nproc_per_node 2 simulate/report.py ckpt.pt          # 2 processes, gloo on CPU
    torchrun --nnodes 2 --nproc_per_node 8 ... simulate/run.py m.nir # NCCL on GPUs

`setup` reads torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK; without it one process),
joins the process group (NCCL when the processes use GPUs, gloo otherwise) and picks the
device.  Work is split by whole batches, batch k to rank k mod world, so every rank sees
exactly the batches the single process would, and `gather` brings each rank's results to
rank 0, which merges them in rank order.  Counts merged this way are sums of integers (or
exact fractions, simulate/counters/network.py), so they do not depend on how the batches were
spread: the report of N processes is the report of one.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def pick_device(choice: str = "auto") -> torch.device:
    """auto (CUDA when present), cpu or cuda (refused where PyTorch sees no GPU); the GPU is
    LOCAL_RANK's under torchrun."""
    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda (got {choice!r})")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available to PyTorch here")
    if torch.cuda.is_available() and choice != "cpu":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def setup(device: str = "auto") -> tuple[int, int, torch.device]:
    """(rank, world, device) from torchrun's environment; world = 1 without it.  device: as
    `pick_device`; each process on a GPU uses GPU LOCAL_RANK."""
    picked = pick_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = picked.type == "cuda"
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if use_cuda:
        torch.cuda.set_device(picked)
    return rank, world, picked


def batches(n: int, batch_size: int, rank: int, world: int) -> list[tuple[int, range]]:
    """This rank's share of n samples in batches of batch_size: [(batch number, sample indices)],
    batch k going to rank k mod world."""
    starts = range(0, n, batch_size)
    return [(k, range(s, min(s + batch_size, n))) for k, s in enumerate(starts) if k % world == rank]


def gather(obj, world: int) -> list | None:
    """Every rank's `obj` on rank 0, in rank order (None on the other ranks); [obj] alone."""
    if world == 1:
        return [obj]
    out = [None] * world if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def finish() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
