"""load_model end to end: official-format and native checkpoints written to real files."""

import pytest
import torch
from checkpoint_factory import official_state_dict_from_ours, write_official_ckpt
from conftest import TINY, random_model

import blobgan_core as bg
from blobgan_core.checkpoint.native import save_native


@pytest.fixture
def reference():
    model = random_model()
    model.set_mean_latent(model.compute_mean_latent(n=500))
    return model


def test_official_ckpt_renders_like_the_model_it_was_written_from(tmp_path, reference):
    path = tmp_path / "bedrooms.ckpt"
    write_official_ckpt(path, official_state_dict_from_ours(reference.state_dict(), TINY), TINY)
    torch.save(reference.mean_latent.clone(), tmp_path / "bedrooms_mean_latent.pt")
    model = bg.load_model(path, device="cpu")
    assert model.config == TINY
    assert torch.equal(model.mean_latent, reference.mean_latent)
    for seed in (0, 1):
        a = reference.render(reference.sample_layout(seed=seed), noise=3)
        b = model.render(model.sample_layout(seed=seed), noise=3)
        assert torch.equal(a, b)


def test_native_round_trip_and_mean_latent_override(tmp_path, reference):
    path = tmp_path / "m.safetensors"
    save_native(path, TINY, reference.state_dict(), reference.mean_latent, None)
    model = bg.load_model(path)
    assert torch.equal(model.render(model.sample_layout(seed=2)), reference.render(reference.sample_layout(seed=2)))
    other = torch.randn(TINY.mlp_width)
    assert torch.equal(bg.load_model(path, mean_latent=other).mean_latent, other)


def test_missing_mean_latent_is_computed_reproducibly(tmp_path, reference):
    path = tmp_path / "m.safetensors"
    save_native(path, TINY, reference.state_dict(), None, None)
    a, b = bg.load_model(path), bg.load_model(path)
    assert a.mean_latent is not None and torch.equal(a.mean_latent, b.mean_latent)


def test_bad_paths_and_options(tmp_path, reference):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        bg.load_model(tmp_path / "nope.ckpt")
    path = tmp_path / "m.safetensors"
    save_native(path, TINY, reference.state_dict(), reference.mean_latent, None)
    with pytest.raises(ValueError, match="dtype must be one of"):
        bg.load_model(path, dtype="float8")
    with pytest.raises(ValueError, match="mean_latent must have 24 values"):
        bg.load_model(path, mean_latent=torch.zeros(5))


def test_weights_that_do_not_fit_the_config_are_named(tmp_path, reference):
    from blobgan_core.loading import model_from_state_dict
    sd = dict(reference.state_dict())
    sd["generator.conv1.activate.bias"] = torch.zeros(3)
    with pytest.raises(ValueError, match="generator.conv1.activate.bias"):
        model_from_state_dict(TINY, sd)
