"""GAN losses BlobGAN trains with: non-saturating logistic loss and the R1 gradient penalty.

Official weights (``configs/experiment/blobgan.yaml``): D_real = D_fake = G = 1, D_R1 = 50, with the
R1 term applied lazily every ``D_reg_every`` (16) D steps and multiplied by that interval. Note the
official code multiplies the squared gradient norm by lambda directly (no 1/2), so lambda = 50 is
gamma = 100 in the StyleGAN2 paper's gamma/2 * ||grad||^2 convention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import autograd


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator logistic loss terms (softplus(-D(x)), softplus(D(G(z)))), each a scalar mean.

    real_logits: [N,1], fake_logits: [M,1].
    """
    return F.softplus(-real_logits).mean(), F.softplus(fake_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator non-saturating loss softplus(-D(G(z))).mean(); fake_logits: [N,1] -> scalar."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d D(x) / d x||^2, differentiable w.r.t. D's parameters.

    real_logits: [N,1] computed from real_images: [N,C,H,W], which must require grad. -> scalar.
    """
    if not real_images.requires_grad:
        raise ValueError("r1_penalty: real_images must require grad (call requires_grad_() before D)")
    (grad,) = autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()
