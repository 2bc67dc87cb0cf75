"""load_model end to end: official-format and native checkpoints written to real files."""

import re

import pytest
import torch
from checkpoint_factory import official_state_dict_from_ours, write_official_ckpt
from conftest import TINY, random_model

import blobgan_core as bg
from blobgan_core.checkpoint.native import load_native, save_native, update_native_metadata
from blobgan_core.drag import default_layer, drag


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


def test_a_measured_drag_layer_in_the_file_is_what_drag_points_uses(tmp_path, reference):
    path = tmp_path / "m.safetensors"
    save_native(path, TINY, reference.state_dict(), reference.mean_latent, {"trained_steps": 7})
    model = bg.load_model(path)
    assert model.drag_layer is None
    rule = default_layer(TINY)
    layout = model.sample_layout(seed=0)
    assert drag(model, [(10, 10)], [(12, 10)], layout=layout, steps=1).layer == rule

    chosen = "conv1" if rule != "conv1" else "convs.0"
    before = load_native(path)
    update_native_metadata(path, drag_layer=chosen)
    after = load_native(path)
    assert all(torch.equal(after[1][k], v) for k, v in before[1].items()) and torch.equal(after[2], before[2])
    assert after[3]["trained_steps"] == "7" and after[3]["created_at"] == before[3]["created_at"]
    model = bg.load_model(path)
    assert model.drag_layer == chosen
    assert drag(model, [(10, 10)], [(12, 10)], layout=layout, steps=1).layer == chosen
    assert drag(model, [(10, 10)], [(12, 10)], layout=layout, steps=1, layer=rule).layer == rule

    update_native_metadata(path, drag_layer="convs.99")     # not a layer of this configuration
    assert bg.load_model(path).drag_layer is None


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


def test_weights_that_are_not_finite_are_refused_naming_file_and_tensor(tmp_path):
    model = random_model(TINY)
    state = model.state_dict()
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name] = state[name].clone()
    state[name].view(-1)[1] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_native(path, TINY, state, model.compute_mean_latent(n=16), {})
    with pytest.raises(ValueError, match=rf"nan.safetensors: tensor '{re.escape(name)}' holds NaN or infinite"):
        bg.load_model(path, device="cpu")
