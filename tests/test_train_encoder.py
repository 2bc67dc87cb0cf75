"""``python -m blobgan_lab train-encoder``: trains, writes an encoder Invert Image reads, resumes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from pack_fixtures import write_tiny_checkpoint

import blobgan_core as bg
from blobgan_core.invert.encoder import load_encoder
from blobgan_lab.__main__ import main
from blobgan_lab.train.state import load_train_state

ROOT = Path(__file__).resolve().parent.parent


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


def test_train_encoder_runs_under_torchrun_on_two_cpu_processes(tmp_path):
    """Two processes joined by torchrun (Gloo on the CPU, over loopback): the same code path as several
    GPUs. Both ranks step in lockstep; rank 0 alone writes the files."""
    model_path = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "blobgan_lab", "train-encoder", "--model", str(model_path), "--out", str(out), "--batch", "2",
         "--channel-base", "64", "--max-channels", "8", "--threads", "1", "--every", "1", "--real", "rooms",
         "--steps", "3"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "step 3/3" in run.stderr and run.stderr.count("wrote ") == 1
    assert load_train_state(str(out / "encoder_last.pt"))["step"] == 3
    encoder = load_encoder(out / "encoder.safetensors")
    assert encoder.fits(bg.load_model(model_path).config) is None
