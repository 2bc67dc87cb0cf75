"""Real-image batches: which dataset items each rank reads at each step, prepared ahead of time.

A batch is a pure function of (seed, step, rank): the indices come from an endless chain of shuffled
epochs, each global batch cut into one contiguous slice per rank (the DistributedSampler idea without
a sampler object), and the horizontal flips from a generator seeded with the step. Resuming at step s
therefore reads exactly the batches an uninterrupted run would, and batches can be rendered in
background threads without touching the training RNG.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import torch


class BatchStream:
    """Serves ``batch(step) -> [B,3,R,R]`` in [-1,1] from a dataset with ``.batch(indices)`` and ``len``."""

    def __init__(self, dataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 flip: bool = True,        # random horizontal flips (seeded by step and rank)
                 resolution: int | None = None):  # expected image side (checked on every batch)
        if len(dataset) < 1:
            raise ValueError("the training dataset is empty")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.flip = flip
        self.resolution = resolution
        self._orders: dict[int, torch.Tensor] = {}
        self._lock = threading.Lock()

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        with self._lock:
            if epoch not in self._orders:
                if len(self._orders) >= 2:   # batches straddle at most two epochs
                    self._orders.pop(min(self._orders))
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
                self._orders[epoch] = torch.randperm(len(self.dataset), generator=g)
            return self._orders[epoch]

    def indices(self, step: int) -> list[int]:
        """Dataset indices this rank reads at ``step``."""
        n = len(self.dataset)
        start = (step * self.world_size + self.rank) * self.batch_size
        out = []
        for pos in range(start, start + self.batch_size):
            out.append(int(self._epoch_order(pos // n)[pos % n]))
        return out

    def batch(self, step: int) -> torch.Tensor:
        """Images [B,3,R,R] in [-1,1] (CPU) for this rank at ``step``."""
        images = self.dataset.batch(self.indices(step))
        r = self.resolution
        if images.dim() != 4 or images.shape[1] != 3 or (r is not None and tuple(images.shape[2:]) != (r, r)):
            want = f"[{self.batch_size},3,{r},{r}]" if r else "[N,3,H,W]"
            raise ValueError(f"dataset.batch must return images {want}, got {list(images.shape)}")
        if self.flip:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + step) * 1009 + self.rank)
            flip = torch.rand(images.shape[0], generator=g) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        return images


class Prefetcher:
    """Renders ``batch_fn(step)`` for the next ``depth`` steps in ``workers`` background threads.

    Procedural rooms are rendered with numpy, which releases the GIL, so threads overlap data work with
    the training step. ``workers=0`` renders in the calling thread.
    """

    def __init__(self, batch_fn, workers: int = 1, depth: int = 2):
        self.batch_fn = batch_fn
        self.depth = max(depth, workers)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="blobgan-data") if workers > 0 else None
        self.pending: dict[int, Future] = {}

    def get(self, step: int) -> torch.Tensor:
        """The batch for ``step`` [B,3,R,R]; schedules the following steps."""
        if self.pool is None:
            return self.batch_fn(step)
        for s in list(self.pending):
            if s < step:   # a jump (e.g. resume) leaves stale work behind
                self.pending.pop(s).cancel()
        for s in range(step, step + self.depth + 1):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(self.batch_fn, s)
        return self.pending.pop(step).result()

    def close(self) -> None:
        if self.pool is not None:
            for f in self.pending.values():
                f.cancel()
            self.pool.shutdown(wait=True)
            self.pool = None
