"""Our generator reproduces the official BlobGAN generator.

tests/fixtures/official_tiny.safetensors holds random weights for a small configuration (every knob off
its default, d_in != C(size_in)), z, per-layer noise, a mean latent, and the images the unmodified
official code (dave-epstein/blobgan c527f1c) rendered from them on CPU in float32. Here the weights go
through a real official-format Lightning checkpoint and load_model, as a user's file would.
"""

from pathlib import Path

import pytest
import torch
from checkpoint_factory import official_state_dict_from_ours, write_official_ckpt
from safetensors import safe_open

import blobgan_core as bg
from blobgan_core.config import BlobGANConfig

FIXTURE = Path(__file__).parent / "fixtures" / "official_tiny.safetensors"


@pytest.fixture(scope="module")
def fixture():
    with safe_open(FIXTURE, "pt") as f:
        config = BlobGANConfig.from_json(f.metadata()["config"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return config, tensors


@pytest.mark.parametrize("truncation", [0.0, 0.4])
def test_official_outputs_reproduced_from_an_official_checkpoint(tmp_path, fixture, truncation):
    config, t = fixture
    weights = {k.removeprefix("weights/"): v for k, v in t.items() if k.startswith("weights/")}
    path = tmp_path / "tiny.ckpt"
    write_official_ckpt(path, official_state_dict_from_ours(weights, config), config)
    torch.save(t["mean_latent"], tmp_path / "tiny_mean_latent.pt")
    model = bg.load_model(path, device="cpu")
    noise = [t[f"noise/{i}"] for i in range(config.n_noise)]
    image = model.render(model.sample_layout(z=t["z"], truncation=truncation), noise=noise)
    official = t[f"official_image/t{truncation}"]
    assert image.shape == official.shape
    # float32, different (but equivalent) order of operations: agreement to ~1e-6 of the image scale
    assert (image - official).abs().max() < 1e-4
    reference = model.generator(model.sample_layout(z=t["z"], truncation=truncation), noise, impl="ref")
    assert (reference - official).abs().max() < 1e-4
