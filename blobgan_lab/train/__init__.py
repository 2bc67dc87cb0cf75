"""BlobGAN training: the official recipe (non-saturating logistic loss, lazy R1, EMA generator, blob
jitter, StyleGAN2 discriminator, Adam) at any scale, on CPU, one GPU, or several GPUs via torchrun.

Entry points: :func:`train_cli` (``python -m blobgan_lab train ...``) and :func:`train`.
"""

from .cli import train_cli
from .discriminator import Discriminator
from .jitter import jitter_layout
from .loop import TrainResult, train
from .options import PRESETS, TrainOptions, resolve

__all__ = ["Discriminator", "PRESETS", "TrainOptions", "TrainResult", "jitter_layout", "resolve", "train",
           "train_cli"]
