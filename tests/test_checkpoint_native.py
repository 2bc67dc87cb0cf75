"""Our .safetensors format, conversion from official checkpoints, and format dispatch."""

import json

import pytest
import torch
from checkpoint_factory import random_state_dict, write_blobgan_checkpoint
from safetensors.torch import save_file

from blobgan_core.checkpoint import (
    CheckpointFormatError,
    convert_checkpoint,
    convert_cli,
    load_native,
    read_checkpoint,
    save_native,
)
from blobgan_core.config import BlobGANConfig

SMALL = BlobGANConfig(resolution=32, size_in=8, c_model=4, n_blobs=3, d_in=8, d_style=8, noise_dim=16,
                      mlp_width=16, mlp_depth=3, ab_norm=0.03, palette="kld")


def test_native_round_trip(tmp_path):
    sd = random_state_dict(SMALL)
    mean = torch.randn(1, 16)
    meta = save_native(tmp_path / "m.safetensors", SMALL, sd, mean, {"source_file": "x.ckpt", "epoch": 3})
    config, got, got_mean, got_meta = load_native(tmp_path / "m.safetensors")
    assert config == SMALL
    assert set(got) == set(sd) and all(torch.equal(got[k], v) for k, v in sd.items())
    assert torch.equal(got_mean, mean.reshape(-1))
    assert got_meta == meta
    assert got_meta["format"] == "blobgan-comfyui" and got_meta["format_version"] == "1"
    assert json.loads(got_meta["config"]) == SMALL.to_dict()
    assert got_meta["source_file"] == "x.ckpt" and got_meta["epoch"] == "3"
    assert not list(tmp_path.glob("*.part"))


def test_native_without_mean_latent(tmp_path):
    save_native(tmp_path / "m.safetensors", SMALL, random_state_dict(SMALL))
    assert load_native(tmp_path / "m.safetensors")[2] is None


def test_save_native_refuses_bad_input(tmp_path):
    sd = random_state_dict(SMALL)
    with pytest.raises(ValueError, match="mean_latent must be a float tensor of 16 values"):
        save_native(tmp_path / "m.safetensors", SMALL, sd, torch.randn(15))
    with pytest.raises(ValueError, match="may not set 'config'"):
        save_native(tmp_path / "m.safetensors", SMALL, sd, None, {"config": "{}"})
    del sd["layout_net.mlp.3.bias"]
    with pytest.raises(CheckpointFormatError, match=r"missing tensors: \['layout_net\.mlp\.3\.bias'\]"):
        save_native(tmp_path / "m.safetensors", SMALL, sd)
    assert not list(tmp_path.iterdir())


def test_convert_round_trip_with_mean_latent(tmp_path):
    src, ours = write_blobgan_checkpoint(tmp_path / "bedrooms.ckpt", SMALL, include_optimizer=True)
    mean = torch.randn(16)
    torch.save(mean, tmp_path / "bedrooms_mean_latent.pt")
    dst = tmp_path / "bedrooms.safetensors"
    convert_checkpoint(src, dst)
    config, sd, got_mean, info = read_checkpoint(dst)
    assert config == BlobGANConfig(**{**SMALL.to_dict(), "palette": "bed_conf"})
    assert all(torch.equal(sd[k], v) for k, v in ours.items())
    assert torch.equal(got_mean, mean)
    assert info["format"] == "blobgan-comfyui"
    assert info["source_file"] == "bedrooms.ckpt" and info["source_format"] == "official-lightning"
    assert json.loads(info["jitter_trained"]) == {"xy": 0.04, "shift": 0.5, "angle": 0.1}
    assert info["global_step"] == "1500000" and info["mean_latent_source"] == "bedrooms_mean_latent.pt"
    assert "converted_at" in info and info["converter"].startswith("comfyui-blobgan")
    # the result is much smaller than the .ckpt: no training copies, discriminator or optimizer state
    assert dst.stat().st_size < src.stat().st_size / 2


def test_convert_with_explicit_mean_latent_file(tmp_path):
    src, _ = write_blobgan_checkpoint(tmp_path / "conference_rooms.ckpt", SMALL)
    mean = torch.randn(1, 16)
    torch.save(mean, tmp_path / "elsewhere.pt")
    convert_checkpoint(src, tmp_path / "c.safetensors", tmp_path / "elsewhere.pt")
    assert torch.equal(read_checkpoint(tmp_path / "c.safetensors")[2], mean.reshape(-1))


def test_convert_cli(tmp_path, capsys):
    src, _ = write_blobgan_checkpoint(tmp_path / "bedrooms.ckpt", SMALL)
    dst = tmp_path / "out.safetensors"
    assert convert_cli([str(src), str(dst)]) == 0
    assert "wrote" in capsys.readouterr().out and dst.is_file()
    with pytest.raises(SystemExit):  # refuses to overwrite without --force
        convert_cli([str(src), str(dst)])
    assert convert_cli([str(src), str(dst), "--force"]) == 0
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"nope")
    assert convert_cli([str(bad), str(tmp_path / "bad.safetensors")]) == 1
    assert "not a supported checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("tensors, meta, message", [
    ({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2)}, None, "Stable Diffusion"),
    ({"lora_unet_down.lora_down.weight": torch.zeros(2)}, None, "a LoRA"),
    ({"encoder.down.0.w": torch.zeros(2), "decoder.up.0.w": torch.zeros(2)}, None, "a VAE"),
    ({"generator_ema.conv1.conv.weight": torch.zeros(2)}, None, "official BlobGAN tensor names"),
    ({"foo.a": torch.zeros(1), "foo.b": torch.zeros(1)}, {"modelspec.architecture": "x"},
     r"foo\.\* \(2\).*modelspec\.architecture='x'"),
])
def test_foreign_safetensors_say_what_they_are(tmp_path, tensors, meta, message):
    path = tmp_path / "other.safetensors"
    save_file(tensors, path, metadata=meta)
    with pytest.raises(CheckpointFormatError, match=message):
        read_checkpoint(path)


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "new.safetensors"
    save_file({"x": torch.zeros(1)}, path, metadata={"format": "blobgan-comfyui", "format_version": "2"})
    with pytest.raises(CheckpointFormatError, match="format_version '2' is not supported"):
        load_native(path)


def test_unsupported_file_lists_supported_formats(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointFormatError, match=r"supported: an official BlobGAN.*\.safetensors"):
        read_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "absent.ckpt")


def test_saved_file_gets_ordinary_permissions(tmp_path):
    import os
    import stat

    from conftest import TINY, random_model

    from blobgan_core.checkpoint.native import save_native
    path = tmp_path / "perm.safetensors"
    save_native(path, TINY, random_model().state_dict(), None, None)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
