"""Real-image batches: which dataset items each rank reads at each step.

The index stream is a pure function of (seed, step, rank): an endless chain of shuffled epochs, each
global batch cut into one contiguous slice per rank (the DistributedSampler idea without a sampler
object). Resuming at step s therefore reads exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import torch


class BatchStream:
    """Serves ``batch(step) -> [B,3,R,R]`` in [-1,1] from a dataset with ``.batch(indices)`` and ``len``."""

    def __init__(self, dataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 flip: bool = True,        # random horizontal flips, drawn from the torch RNG
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
        self._epoch = -1
        self._order: torch.Tensor | None = None

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order = torch.randperm(len(self.dataset), generator=g)
            self._epoch = epoch
        return self._order

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
            flip = torch.rand(images.shape[0]) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        return images
