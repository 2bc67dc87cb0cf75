"""Shared fixtures for the drag tests: a tiny model and layouts whose geometry is known."""

import torch
from conftest import random_model

from blobgan_core.layout import Layout

FRONT = 3  # depth index of the front-most blob of the tiny model (K = 4)


def known_layout(model=None, seed: int = 5) -> Layout:
    """A one-scene layout of the tiny model with blob FRONT large and centred at (0.5, 0.5) (16, 16 px),
    and the other blobs small, in the corners, so the centre of the image belongs to blob FRONT."""
    model = model or random_model()
    lay = model.sample_layout(seed=seed, truncation=0)
    k = lay.n_blobs
    xs = torch.tensor([[0.1, 0.9, 0.1, 0.5]])[:, :k]
    ys = torch.tensor([[0.1, 0.1, 0.9, 0.5]])[:, :k]
    sizes = torch.tensor([[0.0, 1.0, 1.0, 1.0, 3.0]])[:, :k + 1]
    return lay.replace(xs=xs, ys=ys, sizes=sizes)
