"""BlobGAN scene generation and editing in pure PyTorch (no ComfyUI needed)."""

from .config import BlobGANConfig
from .layout import Layout

__all__ = ["BlobGANConfig", "Layout"]
