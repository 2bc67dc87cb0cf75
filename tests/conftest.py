import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from blobgan_core.config import BlobGANConfig  # noqa: E402
from blobgan_core.generator import BlobGAN  # noqa: E402

# Small, but with every knob off its default: d_in != C(size_in) (override_c_in), two upsampling stages.
TINY = BlobGANConfig(resolution=32, size_in=8, c_model=4, channel_multiplier=2, n_blobs=4, d_in=12,
                     d_style=10, noise_dim=16, mlp_width=24, mlp_depth=3, ab_norm=0.02)


def random_model(config: BlobGANConfig = TINY, seed: int = 0) -> BlobGAN:
    """A model with every parameter perturbed, so that biases, noise weights and modulation biases all
    matter (default init leaves some of them at zero or one)."""
    torch.manual_seed(seed)
    model = BlobGAN(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model.eval().requires_grad_(False)


@pytest.fixture
def tiny_model():
    return random_model()
