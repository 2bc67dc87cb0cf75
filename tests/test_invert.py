"""Image -> scene: reconstruction, editability, the tuned view, encoders (ours and the official file
form), framing and bad input."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from checkpoint_factory import malicious_payload
from conftest import TINY, random_model
from pack_fixtures import one_thread

import blobgan_core as bg
from blobgan_core.animate import render_animation
from blobgan_core.checkpoint import UnsafeCheckpointError
from blobgan_core.drag import drag
from blobgan_core.invert import PRESETS, InvertOptions, find_encoder, invert, psnr
from blobgan_core.invert.encoder import LayoutEncoder, load_encoder, save_encoder
from blobgan_core.invert.optimize import FitOptions
from blobgan_core.invert.tuning import base_model, tune_decoder, tuned_tensors
from blobgan_core.scene import blob_masks
from blobgan_core.splat import layout_alphas

QUICK = InvertOptions(samples=16, fit=FitOptions(hidden_steps=10, raw_steps=10))


@pytest.fixture(scope="module")
def default_model():
    return bg.load_model()


@pytest.fixture(scope="module")
def inverted(default_model):
    """A sample of the default model (scene seed 3), inverted with the balanced preset, no encoder."""
    with one_thread():
        target = default_model.render(default_model.sample_layout(seed=3), noise=0)
        scene = invert(default_model, target, encoder=False)
    return target, scene


def test_a_models_own_sample_is_reconstructed(inverted):
    target, scene = inverted
    # balanced preset from 128 samples: 35.7 dB on this sample when measured; the bar leaves room for BLAS
    assert float(psnr(scene.render(), target)) > 30
    assert scene.framing[0].width == 64 and scene.noise_maps is None


def test_the_fit_beats_its_start(default_model):
    with one_thread():
        target = default_model.render(default_model.sample_layout(seed=11), noise=0)
        start = invert(default_model, target, options=dataclasses.replace(
            QUICK, fit=FitOptions(hidden_steps=0, raw_steps=0)), encoder=False)
        fitted = invert(default_model, target, options=QUICK, encoder=False)
    assert float(psnr(fitted.render(), target)) > float(psnr(start.render(), target)) + 1


def _biggest_blob(scene) -> int:
    area = layout_alphas(scene.layout, scene.resolution)[0, 1:].sum((1, 2))
    return scene.ids[int(area.argmax())]


def test_moving_an_inverted_blob_moves_content(inverted):
    """The pixels follow the blob: the render's change lies inside the old and new footprints."""
    _, scene = inverted
    blob = _biggest_blob(scene)
    moved = scene.edit([{"op": "move", "blob": blob, "dx": 0.1, "dy": 0}])
    before, after = scene.render(), moved.render()
    change = (after - before).abs().amax(1)[0]                          # [R,R]
    k = scene.ids.index(blob)
    region = torch.maximum(blob_masks(scene.layout, [k], 64)[0], blob_masks(moved.layout, [k], 64)[0])
    assert float(change.max()) > 0.3
    assert float(change[region < 0.01].mean()) < 0.25 * float(change[region > 0.5].mean())


def test_every_scene_consumer_takes_an_inverted_scene(inverted):
    _, scene = inverted
    k = _biggest_blob(scene)
    edited = scene.edit([{"op": "resize", "blob": k, "scale": 1.2}])
    assert edited.framing == scene.framing and edited.model is scene.model
    assert scene.blob_map().shape == (1, 3, 64, 64)
    with one_thread():
        result = drag(scene, [[20.0, 30.0]], [[24.0, 30.0]], steps=5)
    assert result.image.shape == (1, 3, 64, 64)


def test_tuning_is_a_view_that_leaves_the_model_alone(default_model):
    before = {k: v.clone() for k, v in default_model.state_dict().items()}
    target = default_model.render(default_model.sample_layout(seed=5), noise=1)
    options = dataclasses.replace(QUICK, tune_steps=8, tune_lr=1e-3)
    with one_thread():
        plain = invert(default_model, target, options=QUICK, encoder=False)
        tuned = invert(default_model, target, options=options, encoder=False)
    for k, v in default_model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert base_model(tuned.model) is default_model and tuned.model is not default_model
    (own,) = tuned_tensors(tuned.model)
    assert own and all(name in dict(default_model.generator.named_parameters()) for name in own)
    # the layout network is shared, not copied
    assert tuned.model.layout_net is default_model.layout_net
    assert float(psnr(tuned.render(), target)) > float(psnr(plain.render(), target))


def test_each_picture_of_a_batch_gets_its_own_tuned_decoder(default_model):
    pictures = default_model.render(default_model.sample_layout(seed=21, batch=2), noise=4)
    options = dataclasses.replace(QUICK, tune_steps=6)
    with one_thread():
        scene = invert(default_model, pictures, options=options, encoder=False)
    first, second = tuned_tensors(scene.model)
    assert first.keys() == second.keys() and first
    assert all(not torch.equal(first[n], second[n]) for n in first)
    # item i renders with decoder i, whole or selected, and the selected item is a plain tuned view
    both = scene.render()
    assert torch.allclose(scene.select(1).render(), both[1:], atol=1e-5)
    assert len(tuned_tensors(scene.select(0).model)) == 1
    assert base_model(scene.select(0).model) is default_model
    # tuning one picture does not depend on the rest of the batch
    noise = [t.clone() for t in default_model.noise(0)]
    alone = tune_decoder(default_model, scene.layout.select(1), noise, pictures[1:], steps=6, lr=options.tune_lr)
    assert torch.allclose(alone.render(scene.layout.select(1), noise=noise), both[1:], atol=1e-3)
    with pytest.raises(ValueError, match="select one picture"):
        scene.model.render(scene.layout.select(0), noise=0)
    # consumers that go item by item take it: Drag Points on item 1, an animation of the batch
    result = drag(scene.select(1), [[20.0, 30.0]], [[23.0, 30.0]], steps=2)
    assert result.image.shape == (1, 3, 64, 64)
    frames, _ = render_animation(scene, scene, frames=2, chunk=1, blob_maps=False)
    assert torch.allclose(frames[:, 0], both, atol=1e-5)


def test_the_fit_restores_the_models_gradient_flags():
    model = random_model(TINY).requires_grad_(True)
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    invert(model, target, options=QUICK, encoder=False)
    assert all(p.requires_grad for p in model.parameters())


def test_cancel_stops_promptly_and_changes_nothing():
    model = random_model(TINY)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(InterruptedError):
        invert(model, torch.zeros(1, 3, 32, 32), options=QUICK, encoder=False, should_stop=stop)
    assert len(calls) == 4
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_progress_counts_every_step():
    model = random_model(TINY)
    done = []
    options = dataclasses.replace(QUICK, tune_steps=3)
    invert(model, torch.zeros(2, 3, 32, 32), options=options, encoder=False, progress=done.append)
    assert sum(done) == options.total_steps(2) == 26   # 20 fit steps for the batch, 3 tuning steps each


def test_framing_crops_the_centre_and_keeps_the_size():
    model = random_model(TINY)
    pictures = torch.rand(2, 3, 40, 90) * 2 - 1
    scene = invert(model, pictures, options=QUICK, encoder=False)
    assert scene.layout.batch == 2
    assert scene.framing[0].window() == (25, 0, 40, 40)
    stretched = invert(model, pictures, options=QUICK, encoder=False, fit="stretch")
    assert stretched.framing[1].window() == (0, 0, 90, 40)


@pytest.mark.parametrize("images, message", [
    (torch.zeros(0, 3, 32, 32), "empty batch"),
    (torch.zeros(3, 32, 32), r"\[N,3,H,W\]"),
    (torch.zeros(1, 2, 32, 32), "3 channels"),
    (torch.zeros(1, 3, 4, 4), "at least 8x8"),
    (torch.full((1, 3, 32, 32), float("nan")), "NaN"),
    (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "floats"),
])
def test_bad_images_are_named(images, message):
    with pytest.raises(ValueError, match=message):
        invert(random_model(TINY), images, options=QUICK, encoder=False)


def test_grey_and_rgba_pictures_are_converted():
    model = random_model(TINY)
    assert invert(model, torch.zeros(1, 1, 32, 32), options=QUICK, encoder=False).layout.batch == 1
    assert invert(model, torch.zeros(1, 4, 32, 32), options=QUICK, encoder=False).layout.batch == 1


@pytest.mark.parametrize("mask, message", [
    (torch.zeros(1, 16, 16), "mask is 16x16 pixels but the image is 32x32"),
    (torch.zeros(3, 32, 32), "3 masks for 1 images"),
    (torch.ones(1, 32, 32), "covers the whole picture"),
    (torch.full((32, 32), float("nan")), "NaN"),
])
def test_bad_masks_are_named(mask, message):
    with pytest.raises(ValueError, match=message):
        invert(random_model(TINY), torch.zeros(1, 3, 32, 32), options=QUICK, encoder=False, mask=mask)


def test_masked_pixels_do_not_pull_the_fit(default_model):
    """A picture whose left half is replaced by garbage fits its right half as well with the garbage
    masked as the clean picture does; unmasked, the garbage costs fidelity on the right half."""
    target = default_model.render(default_model.sample_layout(seed=8), noise=0)
    spoiled = target.clone()
    spoiled[..., :, :32] = torch.rand(1, 3, 64, 32) * 2 - 1
    mask = torch.zeros(1, 64, 64)
    mask[..., :32] = 1
    right = (..., slice(None), slice(36, 64))

    def right_psnr(scene):
        return float(psnr(scene.render()[right], target[right]))

    with one_thread():
        masked = invert(default_model, spoiled, options=QUICK, encoder=False, mask=mask)
        unmasked = invert(default_model, spoiled, options=QUICK, encoder=False)
    assert right_psnr(masked) > right_psnr(unmasked)


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ValueError, match="preset must be one of"):
        invert(random_model(TINY), torch.zeros(1, 3, 32, 32), preset="best")
    assert set(PRESETS) == {"encoder only", "fast", "balanced", "faithful"}


# -- encoders ------------------------------------------------------------------------------------------

def _encoder(config=TINY, seed=0) -> LayoutEncoder:
    torch.manual_seed(seed)
    enc = LayoutEncoder.for_model(config, channel_base=128, max_channels=16)
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return enc.eval()


def test_our_encoder_file_round_trips_and_is_found_beside_the_model(tmp_path):
    from pack_fixtures import write_tiny_checkpoint

    model_path = write_tiny_checkpoint(tmp_path / "mine.safetensors", TINY)
    enc = _encoder()
    save_encoder(tmp_path / "mine_encoder.safetensors", enc, dtype=torch.float32)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(load_encoder(tmp_path / "mine_encoder.safetensors")(x), enc(x))
    model = bg.load_model(model_path)
    found = find_encoder(model)
    assert found is not None and torch.equal(found(x), enc(x))
    scene = invert(model, x, preset="encoder only")
    expected = model.layout_net.decode(enc(x))
    assert torch.allclose(scene.layout.xs, expected.xs)


def test_an_encoder_for_another_model_is_refused(tmp_path):
    other = dataclasses.replace(TINY, n_blobs=6)
    with pytest.raises(ValueError, match="encoder does not fit the model"):
        invert(random_model(TINY), torch.zeros(1, 3, 32, 32), encoder=_encoder(other))


def _official_inverter_state(enc: LayoutEncoder) -> dict:
    """Our encoder's weights under the official rosinality/Lightning key names (with the fixed blur
    kernels the official modules keep as buffers)."""
    sd = enc.state_dict()
    kernel = torch.tensor([1.0, 3, 3, 1])
    kernel = kernel[:, None] * kernel[None] / 64
    out = {"inverter.convs.0.0.weight": sd["from_rgb.conv.weight"], "inverter.convs.0.1.bias": sd["from_rgb.act.bias"]}
    for i in range(len(enc.blocks)):
        b = f"blocks.{i}."
        o = f"inverter.convs.{i + 1}."
        out.update({o + "conv1.0.weight": sd[b + "conv1.conv.weight"], o + "conv1.1.bias": sd[b + "conv1.act.bias"],
                    o + "conv2.0.kernel": kernel, o + "conv2.1.weight": sd[b + "conv2.conv.weight"],
                    o + "conv2.2.bias": sd[b + "conv2.act.bias"], o + "skip.0.kernel": kernel,
                    o + "skip.1.weight": sd[b + "skip.conv.weight"]})
    out.update({"inverter.final_conv.0.weight": sd["final_conv.conv.weight"],
                "inverter.final_conv.1.bias": sd["final_conv.act.bias"],
                "inverter.final_linear.0.weight": sd["final_linear.weight"],
                "inverter.final_linear.0.bias": sd["final_linear.bias"],
                "inverter.final_linear.1.weight": sd["out.weight"], "inverter.final_linear.1.bias": sd["out.bias"],
                "generator.generator_ema.conv1.noise.weight": torch.zeros(1)})
    return out


def test_an_official_inverter_checkpoint_is_read(tmp_path):
    # the official widths at 32 px: channel_base 32768 caps every level at 512 channels; a narrower
    # table keeps the test small while exercising the same key layout
    enc = LayoutEncoder(32, TINY.layout_dim, channel_base=16 * 32, max_channels=16)
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path / "rooms_invert.ckpt"
    torch.save({"epoch": 3, "global_step": 100, "state_dict": _official_inverter_state(enc)}, path)
    loaded = load_encoder(path)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(loaded(x), enc(x), atol=1e-6)
    assert loaded.widths() == enc.widths()


def test_a_malicious_inverter_file_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "rooms_invert.ckpt"
    torch.save({"state_dict": {"inverter.final_linear.1.weight": malicious_payload("os_system", marker)}}, path)
    with pytest.raises(UnsafeCheckpointError, match="rooms_invert.ckpt"):
        load_encoder(path)
    assert not marker.exists()


def test_the_default_model_ships_an_encoder_that_helps(default_model):
    enc = find_encoder(default_model)
    assert enc is not None, "blobgan_core/default_model/blobgan_rooms_encoder.safetensors is missing"
    target = default_model.render(default_model.sample_layout(seed=21, batch=4), noise=0)
    with one_thread():
        from_encoder = invert(default_model, target, preset="encoder only")
        from_samples = invert(default_model, target, options=dataclasses.replace(
            PRESETS["encoder only"], use_encoder=False))
    assert float(psnr(from_encoder.render(), target).mean()) > float(psnr(from_samples.render(), target).mean())


def test_inverts_under_inference_mode_as_comfyui_runs_nodes():
    model = random_model(TINY)
    with torch.inference_mode():
        model.render(model.sample_layout(seed=0), noise=0)          # caches inference-mode noise maps
        pictures = torch.rand(1, 3, 32, 32) * 2 - 1
        scene = invert(model, pictures, options=dataclasses.replace(QUICK, tune_steps=2), encoder=False)
        assert scene.render().shape == (1, 3, 32, 32)
