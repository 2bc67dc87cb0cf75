"""Official BlobGAN Lightning checkpoints: EMA weights, configuration from hyper_parameters cross-checked
with shapes, clear errors for everything else."""

import collections
import warnings

import pytest
import torch
from checkpoint_factory import (
    official_state_dict_from_ours,
    random_state_dict,
    write_blobgan_checkpoint,
    write_official_ckpt,
)

from blobgan_core.checkpoint import (
    CheckpointFormatError,
    UnsafeCheckpointError,
    expected_shapes,
    find_mean_latent,
    read_checkpoint,
    read_official_checkpoint,
)
from blobgan_core.config import BlobGANConfig

# size_in 8 with d_in != C(8) exercises generator.override_c_in
SMALL = BlobGANConfig(resolution=32, size_in=8, c_model=4, n_blobs=3, d_in=8, d_style=8, noise_dim=16,
                      mlp_width=16, mlp_depth=3, ab_norm=0.03)
# size_in 16 (the official value), so the configuration can be recovered from shapes alone
SMALL16 = BlobGANConfig(resolution=64, size_in=16, c_model=4, n_blobs=2, d_in=32, d_style=8, noise_dim=16,
                        mlp_width=16, mlp_depth=2)


def test_reads_ema_weights_and_config(tmp_path):
    path, ours = write_blobgan_checkpoint(tmp_path / "bedrooms.ckpt", SMALL, include_optimizer=True)
    config, sd, info = read_official_checkpoint(path)
    assert config == SMALL
    assert set(sd) == set(expected_shapes(SMALL))
    for key, value in ours.items():  # exactly the EMA tensors (the training copies are EMA + 0.5)
        assert torch.equal(sd[key], value), key
    assert info["weights"] == "ema"
    assert info["epoch"] == 62 and info["global_step"] == 1_500_000
    assert info["lightning_version"] == "1.5.10"
    assert info["jitter_trained"] == {"xy": 0.04, "shift": 0.5, "angle": 0.1}
    assert info["jitter_at_inference"] == "off"
    assert info["ignored"] == {"training_copies": len(ours) + 2 * SMALL.n_up + SMALL.n_noise,
                               "discriminator": 4, "noise_buffers": SMALL.n_noise,
                               "fir_kernels": 2 * SMALL.n_up, "other": 0}
    assert info["config_sources"]["d_in"] == "hyper_parameters layout_net.feature_dim"
    assert info["warnings"] == []
    assert info["hyper_parameters"]["generator"]["style_dim"] == SMALL.d_style  # ${model.dim} resolved


def test_loads_strictly_into_the_blobgan_module(tmp_path):
    from blobgan_core.generator import BlobGAN

    path, ours = write_blobgan_checkpoint(tmp_path / "m.ckpt", SMALL)
    config, sd, _ = read_official_checkpoint(path)
    model = BlobGAN(config)
    model.load_state_dict(sd, strict=True)
    assert torch.equal(model.state_dict()["generator.conv1.conv.weight"], ours["generator.conv1.conv.weight"])


def test_bedroom_default_counts_match_the_reference():
    """The official bedroom generator (counted by instantiating the official classes) has 35,866,200
    parameters in 82 state-dict entries (65 without its 9 noise and 8 FIR-kernel buffers); its layout
    network 21,327,687 parameters in 16 tensors."""
    shapes = expected_shapes(BlobGANConfig())
    numel = collections.Counter()
    for key, shape in shapes.items():
        n = 1
        for s in shape:
            n *= s
        numel[key.split(".")[0]] += n
    assert numel["generator"] == 35_866_200  # parameters only: noises and FIR kernels are buffers
    assert numel["layout_net"] == 21_327_687
    assert sum(k.startswith("generator.") for k in shapes) == 82 - 9 - 8


def test_jitter_free_checkpoint_and_attributedict_hparams(tmp_path):
    path, _ = write_blobgan_checkpoint(tmp_path / "bedrooms93.ckpt", SMALL, jitter=False,
                                       hparams_container="attributedict", include_training_copies=False,
                                       include_discriminator=False)
    config, _, info = read_official_checkpoint(path)
    assert config == SMALL
    assert info["jitter_trained"] == {"xy": 0.0, "shift": 0.0, "angle": 0.0}
    assert info["ignored"]["training_copies"] == 0 and info["ignored"]["discriminator"] == 0


def test_palette_from_file_name(tmp_path):
    path, _ = write_blobgan_checkpoint(tmp_path / "kitchen_living_dining.ckpt", SMALL)
    assert read_official_checkpoint(path)[0].palette == "kld"


def test_legacy_torch_format(tmp_path):
    path, ours = write_blobgan_checkpoint(tmp_path / "old.ckpt", SMALL, legacy_format=True)
    config, sd, _ = read_official_checkpoint(path)
    assert config == SMALL
    assert all(torch.equal(sd[k], v) for k, v in ours.items())


def test_half_precision_checkpoint_keeps_its_dtype(tmp_path):
    ours = random_state_dict(SMALL, dtype=torch.float16)
    path = write_official_ckpt(tmp_path / "half.ckpt", official_state_dict_from_ours(ours, SMALL), SMALL)
    _, sd, info = read_official_checkpoint(path)
    assert info["dtype"] == "float16" and sd["generator.conv1.conv.weight"].dtype == torch.float16


# --------------------------------------------------------------------------------------------------
# Missing or partial hyper_parameters
# --------------------------------------------------------------------------------------------------


def test_no_hyperparameters_falls_back_to_shapes(tmp_path):
    path, ours = write_blobgan_checkpoint(tmp_path / "bare.ckpt", SMALL16, hyperparameters=False)
    with pytest.warns(UserWarning) as caught:
        config, sd, info = read_official_checkpoint(path)
    assert sorted(str(w.message).split(":")[1].split()[0] for w in caught) == ["ab_norm", "size_in"]
    # only mlp_lr_mul, ab_norm and size_in are not in the shapes; SMALL16 uses their official defaults
    assert config == SMALL16
    assert info["config_sources"]["n_blobs"].startswith("shape of layout_net.mlp.2.weight")
    assert info["config_sources"]["size_in"] == "default"
    assert any("ab_norm" in w for w in info["warnings"])
    assert all(torch.equal(sd[k], v) for k, v in ours.items())


def test_partial_hyperparameters_are_completed_from_shapes(tmp_path):
    path, _ = write_blobgan_checkpoint(
        tmp_path / "partial.ckpt", SMALL,
        hparam_overrides={"layout_net": {"mlp_hidden_dim": None, "mlp_n_layers": None, "feature_dim": None},
                          "n_features_max": None, "n_features": None, "n_features_min": None})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing here needs a default
        config, _, info = read_official_checkpoint(path)
    assert config == SMALL
    assert info["config_sources"]["mlp_width"] == "shape of layout_net.mlp.1.weight"
    assert info["config_sources"]["d_in"] == "hyper_parameters generator.override_c_in"
    assert info["config_sources"]["n_blobs"].startswith("shape of")


def test_hyperparameter_disagreeing_with_shapes(tmp_path):
    path, _ = write_blobgan_checkpoint(tmp_path / "bad.ckpt", SMALL,
                                       hparam_overrides={"layout_net": {"mlp_hidden_dim": 32}})
    expected = r"layout_net\.mlp_hidden_dim=32 disagrees.*layout_net\.mlp\.1\.weight"
    with pytest.raises(CheckpointFormatError, match=expected):
        read_official_checkpoint(path)


@pytest.mark.parametrize("override, message", [
    ({"spatial_style": False}, "non-spatial-style"),
    ({"layout_net": {"norm_features": False}}, "norm_features=False"),
])
def test_unsupported_variants_in_hyperparameters(tmp_path, override, message):
    path, _ = write_blobgan_checkpoint(tmp_path / "v.ckpt", SMALL, hparam_overrides=override)
    with pytest.raises(CheckpointFormatError, match=message):
        read_official_checkpoint(path)


# --------------------------------------------------------------------------------------------------
# Broken weights and files that are not BlobGAN checkpoints
# --------------------------------------------------------------------------------------------------


def _official(config=SMALL):
    return official_state_dict_from_ours(random_state_dict(config), config)


def test_misshapen_tensor_is_named(tmp_path):
    sd = _official()
    sd["generator_ema.convs.1.conv.weight"] = torch.zeros(1, 32, 31, 3, 3)
    path = write_official_ckpt(tmp_path / "shape.ckpt", sd, SMALL)
    expected = r"generator\.convs\.1\.conv\.weight: found \[1, 32, 31, 3, 3\], expected \[1, 32, 32, 3, 3\]"
    with pytest.raises(CheckpointFormatError, match=expected):
        read_official_checkpoint(path)


def test_missing_tensor_is_named(tmp_path):
    sd = _official()
    del sd["generator_ema.to_rgbs.0.bias"]
    path = write_official_ckpt(tmp_path / "missing.ckpt", sd, SMALL)
    with pytest.raises(CheckpointFormatError, match=r"missing tensors: \['generator\.to_rgbs\.0\.bias'\]"):
        read_official_checkpoint(path)


def test_nonstandard_fir_kernel(tmp_path):
    sd = _official()
    sd["generator_ema.convs.0.conv.blur.kernel"] = torch.ones(4, 4) / 16
    path = write_official_ckpt(tmp_path / "kernel.ckpt", sd, SMALL)
    with pytest.raises(CheckpointFormatError, match=r"convs\.0\.conv\.blur\.kernel is not the standard"):
        read_official_checkpoint(path)


def test_stylegan2_baseline_is_recognized(tmp_path):
    sd = {"generator_ema.style.1.weight": torch.zeros(8, 8),
          "generator_ema.input.input": torch.zeros(1, 8, 4, 4),
          "generator_ema.conv1.conv.weight": torch.zeros(1, 8, 8, 3, 3),
          "discriminator.convs.0.0.weight": torch.zeros(3)}
    path = tmp_path / "SGAN2_bed.ckpt"
    torch.save({"epoch": 1, "state_dict": sd, "hyper_parameters": {}}, path)
    with pytest.raises(CheckpointFormatError, match="StyleGAN2 baseline"):
        read_checkpoint(path)


def test_non_spatial_blobgan_is_refused(tmp_path):
    sd = _official()
    sd["generator_ema.style.1.weight"] = torch.zeros(8, 8)
    path = write_official_ckpt(tmp_path / "ns.ckpt", sd, SMALL)
    with pytest.raises(CheckpointFormatError, match="non-spatial-style"):
        read_official_checkpoint(path)


def test_other_lightning_checkpoint_lists_what_it_found(tmp_path):
    path = tmp_path / "classifier.ckpt"
    torch.save({"epoch": 3, "state_dict": {"backbone.fc.weight": torch.zeros(2, 2),
                                           "backbone.fc.bias": torch.zeros(2)}}, path)
    with pytest.raises(CheckpointFormatError, match=r"not a BlobGAN checkpoint.*backbone\.\* \(2\)"):
        read_checkpoint(path)


@pytest.mark.parametrize("obj, message", [
    (torch.zeros(3), r"holds a single tensor of shape \[3\]"),
    ({"conv.weight": torch.zeros(2)}, "has no 'state_dict'"),
])
def test_files_that_are_not_checkpoints(tmp_path, obj, message):
    path = tmp_path / "x.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointFormatError, match=message):
        read_official_checkpoint(path)


def test_training_copies_used_when_no_ema(tmp_path):
    sd = official_state_dict_from_ours(random_state_dict(SMALL), SMALL, prefix_suffix="")
    path = write_official_ckpt(tmp_path / "noema.ckpt", sd, SMALL, include_training_copies=False)
    with pytest.warns(UserWarning, match="no EMA weights"):
        config, got, info = read_official_checkpoint(path)
    assert config == SMALL and info["weights"] == "training"
    assert torch.equal(got["layout_net.mlp.1.weight"], sd["layout_net.mlp.1.weight"])


# --------------------------------------------------------------------------------------------------
# Mean latent
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16,), (1, 16)])
def test_mean_latent_beside_the_checkpoint(tmp_path, shape):
    path, _ = write_blobgan_checkpoint(tmp_path / "bedrooms.ckpt", SMALL)
    mean = torch.randn(shape)
    torch.save(mean, tmp_path / "bedrooms_mean_latent.pt")
    got = find_mean_latent(path, SMALL.mlp_width)
    assert got.shape == (16,) and torch.equal(got, mean.reshape(-1))
    _, _, from_read, info = read_checkpoint(path)
    assert torch.equal(from_read, mean.reshape(-1)) and info["mean_latent"] == "bedrooms_mean_latent.pt"


def test_mean_latent_absent_or_wrong(tmp_path):
    path, _ = write_blobgan_checkpoint(tmp_path / "bedrooms.ckpt", SMALL)
    assert find_mean_latent(path) is None
    torch.save(torch.randn(15), tmp_path / "bedrooms_mean_latent.pt")
    with pytest.raises(CheckpointFormatError, match="15 values, but the layout MLP is 16 wide"):
        read_checkpoint(path)
    torch.save({"a": 1, "b": 2}, tmp_path / "bedrooms_mean_latent.pt")
    with pytest.raises(CheckpointFormatError, match="found a dict"):
        find_mean_latent(path)


def test_bare_official_state_dict_without_lightning_wrapper(tmp_path):
    ours = random_state_dict(SMALL16)
    path = tmp_path / "weights.pt"
    torch.save(official_state_dict_from_ours(ours, SMALL16), path)
    with pytest.warns(UserWarning):
        config, sd, info = read_official_checkpoint(path)
    assert config == SMALL16 and info["epoch"] is None
    assert all(torch.equal(sd[k], v) for k, v in ours.items())


def test_malicious_mean_latent_file_is_refused(tmp_path):
    from checkpoint_factory import malicious_payload

    path, _ = write_blobgan_checkpoint(tmp_path / "bedrooms.ckpt", SMALL)
    marker = tmp_path / "pwned"
    torch.save(malicious_payload("os_system", marker), tmp_path / "bedrooms_mean_latent.pt")
    with pytest.raises(UnsafeCheckpointError, match="bedrooms_mean_latent.pt"):
        read_checkpoint(path)
    assert not marker.exists()
