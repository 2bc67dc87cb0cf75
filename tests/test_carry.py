"""The carry loss (blobgan_lab/train/carry.py): its image shift, its choice of moves, and that it trains
what it says (a gradient into the decoder and the layout network, zero for a blob that is not moved)."""

import torch
from conftest import random_model

from blobgan_core.splat import layout_alphas
from blobgan_lab.train.carry import carry_loss, moved, pick_moves, shift_images


def test_shift_images_moves_content_by_whole_pixels_exactly():
    x = torch.zeros(2, 1, 8, 8)
    x[:, 0, 2, 2] = 1
    out = shift_images(x, torch.tensor([[1 / 8, 2 / 8], [-2 / 8, 0.0]]))
    assert out[0, 0].nonzero().tolist() == [[4, 3]]       # y + 2, x + 1
    assert out[1, 0].nonzero().tolist() == [[2, 0]]       # x - 2
    assert torch.allclose(out.sum((1, 2, 3)), torch.ones(2))


def test_moves_pick_visible_blobs_and_stay_within_the_shift():
    model = random_model()
    layout = model.sample_layout(seed=1, batch=16)
    alphas = layout_alphas(layout, 32)
    k, d = pick_moves(alphas, 0.1, torch.Generator().manual_seed(0))
    area = alphas[:, 1:].mean((-1, -2))
    assert all(area[i, k[i]] >= 0.01 for i in range(16) if k[i] >= 0)
    assert bool((d.norm(dim=1) <= 0.1 + 1e-6).all())
    out = moved(layout, k, d)
    for i in range(16):
        others = [j for j in range(layout.n_blobs) if j != k[i]]
        assert torch.equal(out.xs[i, others], layout.xs[i, others])
        assert torch.allclose(out.xs[i, k[i]] - layout.xs[i, k[i]], d[i, 0])


def test_carry_loss_trains_the_decoder_only():
    model = random_model().train().requires_grad_(True)
    layout = model.layout_net(torch.randn(4, model.config.noise_dim))
    loss, parts = carry_loss(model, layout, 0.1, torch.Generator().manual_seed(0))
    loss.backward()
    assert float(loss.detach()) > 0 and set(parts) == {"carry_in", "carry_out"}
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    assert all(p.grad is None for p in model.layout_net.parameters())
