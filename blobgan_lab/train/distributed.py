"""Process-group setup for CPU, one GPU, or several GPUs launched with torchrun.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; with WORLD_SIZE > 1 we join a process group (NCCL on
CUDA, Gloo on CPU) and wrap the networks in DistributedDataParallel. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from blobgan_core.devices import resolve_device


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _pick_device(request: str, local_rank: int) -> torch.device:
    if request == "auto":
        request = "cuda" if torch.cuda.is_available() else "cpu"  # the trainer does not use MPS
    if request == "cuda" and torch.cuda.is_available():
        # under torchrun, plain "cuda" means this process's own GPU
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    try:
        return resolve_device(request)
    except ValueError as e:
        raise ValueError(f"--device: {e}") from None


def setup(device_request: str) -> DistContext:
    """Read torchrun's environment, pick this process's device and join the process group if needed."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _pick_device(device_request, local_rank)
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, device=device)


def teardown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when ``flag`` is true on at least one (keeps ranks stepping in lockstep)."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_objects(obj, ctx: DistContext) -> list:
    """Every rank's ``obj`` (used for RNG states), in rank order."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()
