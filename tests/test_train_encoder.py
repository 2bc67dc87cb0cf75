"""``python -m blobgan_lab train-encoder``: trains, writes an encoder Invert Image reads, resumes."""

from __future__ import annotations

import torch
from pack_fixtures import write_tiny_checkpoint

import blobgan_core as bg
from blobgan_core.invert.encoder import load_encoder
from blobgan_lab.__main__ import main
from blobgan_lab.train.state import load_train_state


def test_train_encoder_writes_a_usable_encoder_and_resumes(tmp_path, capsys):
    model_path = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    out = tmp_path / "run"
    args = ["train-encoder", "--model", str(model_path), "--out", str(out), "--batch", "4",
            "--channel-base", "64", "--max-channels", "8", "--threads", "1", "--every", "1", "--real", "rooms"]
    assert main([*args, "--steps", "2"]) == 0
    assert load_train_state(str(out / "encoder_last.pt"))["step"] == 2
    first = load_encoder(out / "encoder.safetensors")
    assert main([*args, "--steps", "4", "--resume"]) == 0
    err = capsys.readouterr().err
    assert "resumed" in err and "step 4/4" in err and "step 1/4" not in err
    second = load_encoder(out / "encoder.safetensors")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert not torch.equal(first(x), second(x))             # it kept training
    model = bg.load_model(model_path)
    assert second.fits(model.config) is None
    layout = model.layout_net.decode(second(x))
    assert layout.xs.shape == (2, model.config.n_blobs)


def test_train_encoder_refuses_bad_options(tmp_path, capsys):
    assert main(["train-encoder", "--out", str(tmp_path), "--trunc-min", "0.8", "--trunc-max", "0.2"]) == 1
    assert "--trunc-min" in capsys.readouterr().err
