"""The one place that turns a device request ("auto", "cpu", "cuda", "cuda:1", "mps") into a device."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return mps is not None and mps.is_available()
    return kind == "cpu"


def available_devices() -> list[str]:
    """The device kinds present on this machine, best first, "auto" included."""
    return ["auto", *(k for k in ("cuda", "mps", "cpu") if _available(k))]


def resolve_device(request: str | torch.device | None = None) -> torch.device:
    """None or "auto": CUDA, then Apple MPS, then the CPU. Anything else must be present on this machine;
    a ValueError names what is (so a workflow saved on a GPU box says why it fails on a laptop)."""
    if request is None or request == "auto":
        return next(torch.device(k) for k in ("cuda", "mps", "cpu") if _available(k))
    try:
        device = torch.device(request)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be one of {list(DEVICE_CHOICES)} (or 'cuda:N'), got {request!r}") from None
    if device.type not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {list(DEVICE_CHOICES)} (or 'cuda:N'), got {request!r}")
    if not _available(device.type):
        raise ValueError(f"{str(request)!r} is not available on this machine; available devices: {available_devices()}")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(request)!r}: only {torch.cuda.device_count()} CUDA devices are visible")
    return device
