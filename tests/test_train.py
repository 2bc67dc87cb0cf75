"""Trainer: discriminator, losses, jitter, EMA, batches, options, and short real training runs."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest
import torch

from blobgan_core import load_model
from blobgan_core.checkpoint.native import load_native
from blobgan_core.layout import Layout, cov_axes
from blobgan_lab.train import Discriminator, jitter_layout, resolve, train, train_cli
from blobgan_lab.train.batches import BatchStream, Prefetcher
from blobgan_lab.train.discriminator import minibatch_stddev
from blobgan_lab.train.ema import OFFICIAL_EMA_DECAY, ema_decay_for, update_ema
from blobgan_lab.train.losses import d_logistic_loss, g_nonsaturating_loss, r1_penalty
from blobgan_lab.train.state import load_train_state

# A model small enough that a training step takes a fraction of a second on a shared CPU.
TINY = dict(resolution=32, size_in=16, c_model=4, channel_multiplier=1, n_blobs=3, d_in=8, d_style=8,
            noise_dim=8, mlp_width=16, mlp_depth=2, batch=4, d_channel_base=128, d_max_channels=8,
            d_reg_every=2, n_samples=4, mean_latent_samples=64, log_every=1, threads=2, device="cpu")


class TensorImages:
    """A fixed set of random images in [-1,1] with the dataset interface the trainer reads."""

    def __init__(self, n: int = 12, size: int = 32, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, size, size, generator=g) * 2 - 1

    def __len__(self):
        return len(self.images)

    def batch(self, indices):
        return self.images[list(indices)]


class SignalOnBatch(TensorImages):
    """Sends this process SIGTERM while preparing the batch for step ``at`` (as a scheduler would)."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.calls = at, 0

    def batch(self, indices):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().batch(indices)


def tiny(out, **changes):
    return resolve("cpu64", {**TINY, "out": str(out), **changes})


# -- discriminator ----------------------------------------------------------------------------------

@pytest.mark.parametrize("res", [8, 16, 32])
def test_discriminator_maps_images_to_one_logit(res):
    d = Discriminator(res, channel_base=256, max_channels=16)
    out = d(torch.randn(4, 3, res, res))
    assert out.shape == (4, 1) and torch.isfinite(out).all()
    assert d.channels(res) == min(256 // res, 16) and d.channels(4) == 16


def test_discriminator_official_width_table_parameter_count():
    # 5,379,585 is what the official StyleGANDiscriminator(32, channel_multiplier=1) has.
    d = Discriminator.official(32, channel_multiplier=1)
    assert [d.channels(r) for r in (32, 16, 8, 4)] == [256] * 4
    assert sum(p.numel() for p in d.parameters()) == 5_379_585


def test_discriminator_rejects_wrong_resolution():
    with pytest.raises(ValueError, match="resolution must be a power of two"):
        Discriminator(24)
    with pytest.raises(ValueError, match=r"\[N,C,16,16\]"):
        Discriminator(16, channel_base=64, max_channels=4)(torch.randn(2, 3, 32, 32))


def test_minibatch_stddev_appends_group_std_and_accepts_odd_batches():
    x = torch.randn(6, 5, 4, 4)      # 6 is not divisible by 4: groups of 3
    y = minibatch_stddev(x)
    assert y.shape == (6, 6, 4, 4)
    assert torch.equal(y[:, :5], x)
    groups = x.view(3, 2, 5, 4, 4)   # sample i is in group i % 2
    expected = torch.sqrt(groups.var(0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))
    assert torch.allclose(y[0, 5], expected[0].expand(4, 4)) and torch.allclose(y[1, 5], expected[1].expand(4, 4))


# -- losses, EMA, jitter ----------------------------------------------------------------------------

def test_logistic_losses_at_zero_logits_are_log2():
    zero = torch.zeros(3, 1)
    real, fake = d_logistic_loss(zero, zero)
    assert math.isclose(real.item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(fake.item(), math.log(2), rel_tol=1e-6)
    assert math.isclose(g_nonsaturating_loss(zero).item(), math.log(2), rel_tol=1e-6)


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm():
    w = torch.randn(3, 4, 4, requires_grad=True)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (x * w).flatten(1).sum(1, keepdim=True)
    penalty = r1_penalty(logits, x)
    assert torch.allclose(penalty, w.pow(2).sum())
    penalty.backward()                                  # differentiable w.r.t. the critic's weights
    assert torch.allclose(w.grad, 2 * w)
    with pytest.raises(ValueError, match="require grad"):
        r1_penalty(logits, x.detach())


def test_ema_update_blends_parameters_and_copies_buffers():
    a, b = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        a.weight.fill_(0.0)
        b.weight.fill_(1.0)
        b.running_mean.fill_(5.0)
    update_ema(a, b, 0.75)
    assert torch.allclose(a.weight, torch.full((3,), 0.25))
    assert torch.equal(a.running_mean, b.running_mean)
    update_ema(a, b, 0.0)
    assert torch.equal(a.weight, b.weight)
    assert math.isclose(ema_decay_for(32, 10.0), OFFICIAL_EMA_DECAY)


def _layout(n=4, k=5, generator=None):
    g = generator or torch.Generator().manual_seed(0)
    a = torch.randn(n, k, 2, 2, generator=g)
    return Layout(xs=torch.rand(n, k, generator=g), ys=torch.rand(n, k, generator=g),
                  sizes=torch.randn(n, k + 1, generator=g), covs=a @ a.transpose(-1, -2) + 0.1 * torch.eye(2),
                  features=torch.randn(n, k + 1, 6, generator=g), spatial_style=torch.randn(n, k + 1, 7, generator=g))


def test_jitter_stays_within_its_bounds_and_keeps_blob_shapes():
    lay = _layout()
    out = jitter_layout(lay, xy=0.04, size=0.5, angle=0.1, generator=torch.Generator().manual_seed(1))
    assert (out.xs - lay.xs).abs().max() <= 0.04 and (out.ys - lay.ys).abs().max() <= 0.04
    assert not torch.equal(out.xs, lay.xs)
    assert torch.equal(out.sizes[:, 0], lay.sizes[:, 0])          # the background is not a blob
    assert (out.sizes[:, 1:] - lay.sizes[:, 1:]).abs().max() <= 0.5
    ang0, major0, minor0 = cov_axes(lay.covs)
    ang1, major1, minor1 = cov_axes(out.covs)
    assert torch.allclose(major0, major1, atol=1e-5) and torch.allclose(minor0, minor1, atol=1e-5)
    turn = torch.remainder(ang1 - ang0 + math.pi / 2, math.pi) - math.pi / 2   # axis angles are mod pi
    assert turn.abs().max() <= 0.1 + 1e-4 and turn.abs().max() > 0
    assert out.features is lay.features and out.spatial_style is lay.spatial_style


def test_jitter_off_is_identity_and_gradients_flow():
    lay = _layout()
    same = jitter_layout(lay, xy=0, size=0, angle=0)
    assert all(torch.equal(a, b) for a, b in zip(same.tensors().values(), lay.tensors().values()))
    xs = lay.xs.clone().requires_grad_(True)
    covs = lay.covs.clone().requires_grad_(True)
    out = jitter_layout(lay.replace(xs=xs, covs=covs))
    (out.xs.sum() + out.covs.sum()).backward()
    assert torch.equal(xs.grad, torch.ones_like(xs)) and covs.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="angle must be >= 0"):
        jitter_layout(lay, angle=-1)


# -- batches and options ----------------------------------------------------------------------------

def test_batch_stream_shards_epochs_across_ranks_deterministically():
    data = TensorImages(n=12, size=8)
    ranks = [BatchStream(data, 3, seed=5, rank=r, world_size=2, flip=False) for r in range(2)]
    epoch = [i for step in range(2) for s in ranks for i in s.indices(step)]
    assert sorted(epoch) == list(range(12))                       # one epoch = a permutation
    assert ranks[0].indices(3) == BatchStream(data, 3, seed=5, rank=0, world_size=2).indices(3)
    assert ranks[0].indices(2) != ranks[0].indices(0) or ranks[0].indices(3) != ranks[0].indices(1)
    flips = BatchStream(data, 3, seed=5, flip=True)
    assert torch.equal(flips.batch(4), flips.batch(4))            # a pure function of the step
    with pytest.raises(ValueError, match=r"\[3,3,16,16\]"):
        BatchStream(data, 3, seed=0, resolution=16).batch(0)


def test_prefetcher_returns_the_batches_in_step_order():
    stream = BatchStream(TensorImages(n=12, size=8), 2, seed=1)
    pre = Prefetcher(stream.batch, workers=2)
    try:
        got = [pre.get(s) for s in (0, 1, 2, 7)]
    finally:
        pre.close()
    assert all(torch.equal(g, stream.batch(s)) for g, s in zip(got, (0, 1, 2, 7)))


def test_presets_resolve_and_bad_options_are_named():
    for name in ("cpu64", "gpu128", "official256"):
        config, options = resolve(name, {})
        assert options.preset == name and config.resolution in (64, 128, 256)
    with pytest.raises(ValueError, match="unknown preset 'big'"):
        resolve("big", {})
    with pytest.raises(ValueError, match=r"--batch must be >= 1.*--r1 must be >= 0"):
        resolve("cpu64", {"batch": 0, "r1": -1})
    with pytest.raises(ValueError, match="resolution must be a power of two"):
        resolve("cpu64", {"resolution": 48})


# -- training runs ----------------------------------------------------------------------------------

def _weights(out):
    state = load_train_state(os.path.join(out, "last.pt"))
    return state, {f"{net}.{k}": v for net in ("G", "G_ema", "D") for k, v in state[net].items()}


def test_training_resumes_exactly_and_exports_a_loadable_model(tmp_path, capsys):
    data = TensorImages()
    config, straight = tiny(tmp_path / "straight", steps=4, sample_every=2)
    result = train(config, straight, dataset=data)
    assert result.step == 4 and not result.stopped_early

    # Losses are finite and logged, with R1 on its lazy schedule (d_reg_every=2: steps 2 and 4).
    records = [json.loads(line) for line in open(tmp_path / "straight" / "log.jsonl")]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all(math.isfinite(r[k]) for r in records for k in ("d_loss", "g_loss", "img_per_s"))
    assert "r1" in records[1] and "r1" not in records[0]
    assert "step 4/4" in capsys.readouterr().err

    # 2 steps, then a resumed run to 4, gives bit-identical G, G_ema and D.
    _, half = tiny(tmp_path / "split", steps=2, sample_every=2)
    train(config, half, dataset=data)
    _, rest = tiny(tmp_path / "split", steps=4, sample_every=2)
    assert train(config, rest, dataset=data, resume=True).step == 4
    state, a = _weights(tmp_path / "straight")
    _, b = _weights(tmp_path / "split")
    assert state["step"] == 4 and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)

    # The EMA moved away from its initial copy but lags behind G.
    g, ema = state["G"], state["G_ema"]
    assert any(not torch.equal(g[k], ema[k]) for k in g)

    # model.safetensors holds the EMA weights and a mean latent, and renders.
    cfg, sd, mean_latent, meta = load_native(tmp_path / "straight" / "model.safetensors")
    assert cfg == config and meta["trained_steps"] == "4"
    assert all(torch.equal(sd[k], ema[k]) for k in sd)
    assert mean_latent.shape == (config.mlp_width,)
    model = load_model(tmp_path / "straight" / "model.safetensors", device="cpu")
    assert torch.equal(model.mean_latent, mean_latent)
    with torch.no_grad():
        img = model.render(model.sample_layout(seed=0, truncation=0.5))
    assert img.shape == (1, 3, 32, 32) and torch.isfinite(img).all()
    samples = sorted(os.listdir(tmp_path / "straight" / "samples"))
    assert samples == ["step_000002.png", "step_000002_blobs.png", "step_000004.png", "step_000004_blobs.png"]


def test_sigterm_stops_after_the_step_with_a_checkpoint(tmp_path):
    config, options = tiny(tmp_path, steps=50, ckpt_every=0, sample_every=0, data_workers=0)
    result = train(config, options, dataset=SignalOnBatch(at=2))
    assert result.stopped_early and result.step == 2
    assert load_train_state(os.path.join(tmp_path, "last.pt"))["step"] == 2
    assert os.path.isfile(tmp_path / "model.safetensors")


def test_cli_refuses_to_overwrite_a_run_and_reports_bad_flags(tmp_path, capsys):
    out = tmp_path / "run"
    os.makedirs(out)
    (out / "last.pt").write_bytes(b"not a checkpoint")
    assert train_cli(["--out", str(out), "--device", "cpu"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        train_cli(["--out", str(tmp_path / "other"), "--batch", "0"])
    assert exit_info.value.code == 2
    assert "--batch must be >= 1" in capsys.readouterr().err


def test_cli_trains_on_rooms_and_resume_keeps_the_checkpoint_settings(tmp_path):
    out = str(tmp_path / "rooms")
    flags = ["--data", "rooms", "--out", out, "--device", "cpu", "--resolution", "32", "--c-model", "4",
             "--channel-multiplier", "1", "--blobs", "3", "--d-in", "8", "--d-style", "8", "--noise-dim", "8",
             "--mlp-width", "16", "--mlp-depth", "2", "--batch", "2", "--d-channel-base", "128",
             "--d-channels", "8", "--n-samples", "2", "--mean-latent-samples", "32", "--jitter", "off"]
    assert train_cli(flags + ["--steps", "1"]) == 0
    # --resume alone brings back the tiny model and options; --steps extends the run.
    assert train_cli(["--out", out, "--resume", "--steps", "2"]) == 0
    state = load_train_state(os.path.join(out, "last.pt"))
    assert state["step"] == 2 and state["config"]["c_model"] == 4 and state["options"]["jitter"] is False
    # A resume may change the batch (say, a CPU run moved to a GPU): the image count adds up per step.
    assert train_cli(["--out", out, "--resume", "--steps", "3", "--batch", "3"]) == 0
    assert load_train_state(os.path.join(out, "last.pt"))["images"] == 2 * 2 + 3
    assert load_native(os.path.join(out, "model.safetensors"))[3]["trained_images"] == "7"
    with pytest.raises(SystemExit) as exit_info:
        train_cli(["--out", out, "--resume", "--c-model", "8"])   # a different model cannot resume
    assert exit_info.value.code == 2


def test_trains_on_a_folder_of_photos(tmp_path):
    from PIL import Image

    photos = tmp_path / "photos" / "nested"
    photos.mkdir(parents=True)
    g = torch.Generator().manual_seed(3)
    for i in range(5):    # non-square, larger than the training size: resized and centre-cropped
        pixels = (torch.rand(40, 56, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(photos / f"room{i}.png")
    config, options = tiny(tmp_path / "out", data=str(tmp_path / "photos"), steps=1)
    assert train(config, options).step == 1
    assert os.path.isfile(tmp_path / "out" / "model.safetensors")
    assert train_cli(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o2"), "--device", "cpu"]) == 2
