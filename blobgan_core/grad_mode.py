"""Autograd inside ComfyUI, which runs every node under ``torch.inference_mode``."""

from __future__ import annotations

import functools

import torch


def outside_inference_mode(fn):
    """Run ``fn`` with autograd available even when called under ``torch.inference_mode``: Drag Points and
    Invert Image need gradients. Weights loaded under inference mode are fine: every parameter passes
    through a scaling op (equalized learning rate) before a convolution or linear layer saves it for the
    backward pass, and those results are ordinary tensors. Other inputs made under inference mode must
    be cloned inside ``fn`` before they enter a graph."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.inference_mode(False), torch.enable_grad():
            return fn(*args, **kwargs)
    return wrapper
