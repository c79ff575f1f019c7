"""Multi-process training with torchrun: DistributedDataParallel + DistributedSampler.

    torchrun --nproc_per_node=2 -m vae_core train --data-dir D --out DIR ...
    torchrun --nnodes=2 --node_rank=0 --rdzv_backend=c10d --rdzv_endpoint=HOST:29400 \\
        --nproc_per_node=8 -m vae_core train ...

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; without them everything here is a no-op and
training runs in one process. `batch_size` is the *global* batch: each of the world_size
processes takes batch_size / world_size images per step, and DDP averages the gradients, so a
step sees the same mean loss over the same number of images as a single-process run.
Only rank 0 logs, evaluates and writes checkpoints. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from .errors import ConfigError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes in the environment (or stay single)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def local_batch(batch_size: int, info: DistInfo) -> int:
    if batch_size % info.world_size:
        raise ConfigError(f"batch size {batch_size} must be divisible by the number of "
                          f"processes ({info.world_size})")
    return batch_size // info.world_size


def epoch_indices(n: int, epoch: int, seed: int, info: DistInfo) -> torch.Tensor:
    """This rank's shuffled share of range(n) for one epoch (DistributedSampler + set_epoch)."""
    sampler = DistributedSampler(range(n), num_replicas=info.world_size, rank=info.rank,
                                 shuffle=True, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long)


def mean_across(values: dict[str, float], info: DistInfo, device: torch.device
                ) -> dict[str, float]:
    """Average per-rank numbers over all ranks (for logging the epoch's train loss)."""
    if not info.enabled:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(values, (t / info.world_size).tolist(), strict=False))


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True if `flag` is true on any rank (so every rank stops together)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
