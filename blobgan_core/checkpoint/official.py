"""Official BlobGAN checkpoints: PyTorch-Lightning ``.ckpt`` files from the original training code.

Only the EMA weights are used (``generator_ema.*`` -> ``generator.*``, ``layout_net_ema.*`` ->
``layout_net.*``). The training copies, the discriminator and optimizer states are never read from
disk (the file is memory-mapped and their pages are never touched; a legacy-format file, which cannot
be mapped, is read whole); the ``generator_ema.noises.*`` buffers (sized for a 4x4 start, wrong for
BlobGAN and unused) are dropped; the constant FIR kernels (``*.blur.kernel``, ``*.upsample.kernel``)
are checked and dropped.

The configuration comes from ``hyper_parameters`` (pickled omegaconf configs, read without omegaconf),
cross-checked against the tensor shapes; fields missing from the file are inferred from the shapes,
or fall back to the official defaults with a warning. Jitter is a training-only augmentation: its
values are reported in ``info`` and never used at inference.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch

from ..config import BlobGANConfig
from ..generator import BlobGAN
from .hparams import OFFICIAL_CHECKPOINT_GLOBALS, plain
from .torch_file import CheckpointFormatError, load_torch_file

__all__ = [
    "OFFICIAL_SIZE_IN_DEFAULT",
    "expected_shapes",
    "find_mean_latent",
    "fir_kernel",
    "read_mean_latent_file",
    "read_official_checkpoint",
    "validate_state_dict",
]

EMA_RENAMES = {"generator_ema.": "generator.", "layout_net_ema.": "layout_net."}
TRAINING_RENAMES = {"generator.": "generator.", "layout_net.": "layout_net."}
OFFICIAL_SIZE_IN_DEFAULT = 16  # LayoutStyleGANGenerator.size_in; the one field shapes cannot tell


def fir_kernel() -> torch.Tensor:
    """The [4, 4] blur/upsample kernel every official model stores: outer([1,3,3,1], [1,3,3,1]) / 16."""
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    return torch.outer(k, k) / 16


# --------------------------------------------------------------------------------------------------
# Expected parameter names and shapes (our naming: the official one without ``_ema``)
# --------------------------------------------------------------------------------------------------


def expected_shapes(config: BlobGANConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of a BlobGAN state dict for ``config``, in our naming, with its shape: those of the
    model itself, built on the meta device (no memory used)."""
    with torch.device("meta"):
        model = BlobGAN(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def validate_state_dict(state_dict: dict, config: BlobGANConfig, *, source: str = "the checkpoint") -> None:
    """Raise CheckpointFormatError naming every missing, unexpected or misshapen key."""
    expected = expected_shapes(config)
    missing = [k for k in expected if k not in state_dict]
    unexpected = sorted(k for k in state_dict if k not in expected)
    wrong = [f"{k}: found {list(state_dict[k].shape)}, expected {list(s)}"
             for k, s in expected.items() if k in state_dict and tuple(state_dict[k].shape) != s]
    if not (missing or unexpected or wrong):
        return
    parts = []
    if wrong:
        parts.append("misshapen tensors: " + "; ".join(wrong[:8]) + (" ..." if len(wrong) > 8 else ""))
    if missing:
        parts.append(f"missing tensors: {missing[:8]}" + (" ..." if len(missing) > 8 else ""))
    if unexpected:
        parts.append(f"unexpected tensors: {unexpected[:8]}" + (" ..." if len(unexpected) > 8 else ""))
    raise CheckpointFormatError(
        f"{source} does not match the BlobGAN configuration {config.to_json()}: " + "; ".join(parts))


# --------------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------------


def _prefix_counts(keys) -> dict[str, int]:
    counts: dict[str, int] = {}
    for k in keys:
        head = k.split(".", 1)[0] if isinstance(k, str) else repr(k)
        counts[head] = counts.get(head, 0) + 1
    return counts


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}.* ({n})" for k, n in sorted(counts.items())) or "nothing"


def _state_dict_of(ckpt, path: Path) -> tuple[dict, dict]:
    """(state_dict, top-level dict) of a Lightning checkpoint, or of a bare state dict."""
    if isinstance(ckpt, torch.Tensor):
        raise CheckpointFormatError(
            f"{path} holds a single tensor of shape {list(ckpt.shape)}, not a checkpoint (a mean latent "
            "file?); expected an official BlobGAN Lightning checkpoint (a dict with 'state_dict' and "
            "'hyper_parameters')")
    if not isinstance(ckpt, dict):
        raise CheckpointFormatError(
            f"{path} holds a {type(ckpt).__name__}, not a checkpoint dictionary; expected an official "
            "BlobGAN Lightning checkpoint (a dict with 'state_dict' and 'hyper_parameters')")
    if "state_dict" in ckpt:
        sd = ckpt["state_dict"]
        if not isinstance(sd, dict):
            raise CheckpointFormatError(f"{path}: 'state_dict' is a {type(sd).__name__}, not a dict")
        return sd, ckpt
    if any(isinstance(k, str) and k.startswith(tuple(EMA_RENAMES)) for k in ckpt):
        return ckpt, {}
    keys = [k if isinstance(k, str) else f"<a {type(k).__name__}>" for k in list(ckpt)[:12]]
    raise CheckpointFormatError(
        f"{path} is not a BlobGAN checkpoint: it has no 'state_dict' (top-level keys: {keys}); expected "
        "an official BlobGAN Lightning checkpoint (.ckpt) or a .safetensors made by "
        "`python -m blobgan_core convert`")


def _classify(sd: dict, path: Path) -> None:
    """Refuse the checkpoints that are not the spatial-style BlobGAN, with what they look like."""
    keys = [k for k in sd if isinstance(k, str)]

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    found = _describe(_prefix_counts(keys))
    if has("generator_ema.style.") or has("generator.style."):
        if has("layout_net_ema.") or has("layout_net."):
            raise CheckpointFormatError(
                f"{path} is a non-spatial-style BlobGAN (it has a style MLP, generator_ema.style.*); only "
                "spatial-style BlobGAN models (all released ones) are supported")
        raise CheckpointFormatError(
            f"{path} looks like a StyleGAN2 baseline checkpoint (the official 'GAN' class: "
            f"generator_ema.style.*, no layout network), not a BlobGAN; found {found}")
    if has("generator_ema.input.") or has("generator.input."):
        raise CheckpointFormatError(f"{path}: a BlobGAN with a constant decoder input (const_in) is not "
                                    "supported; released models have none")
    if not ((has("generator_ema.") and has("layout_net_ema.")) or (has("generator.") and has("layout_net."))):
        raise CheckpointFormatError(
            f"{path} is not a BlobGAN checkpoint: it needs generator_ema.* and layout_net_ema.* tensors "
            f"(the EMA generator and layout network); found {found}")


def _select(sd: dict, renames: dict[str, str], path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Pick and rename one generator/layout-net pair, dropping noise buffers and checked FIR kernels."""
    out: dict[str, torch.Tensor] = {}
    dropped = {"noise_buffers": 0, "fir_kernels": 0}
    kernel = fir_kernel()
    for key, value in sd.items():
        if not isinstance(key, str):
            continue
        prefix = next((p for p in renames if key.startswith(p)), None)
        if prefix is None:
            continue
        rest = key[len(prefix):]
        if prefix.startswith("generator") and rest.startswith("noises."):
            dropped["noise_buffers"] += 1
            continue
        if not isinstance(value, torch.Tensor):
            raise CheckpointFormatError(f"{path}: state_dict[{key!r}] is a {type(value).__name__}, not a tensor")
        if rest.endswith((".blur.kernel", ".upsample.kernel")):
            if tuple(value.shape) != (4, 4) or not torch.allclose(value.double(), kernel.double(), atol=1e-4):
                raise CheckpointFormatError(
                    f"{path}: {key} is not the standard [1,3,3,1] FIR kernel (outer([1,3,3,1],[1,3,3,1])/16, "
                    f"found shape {list(value.shape)}); models with another blur kernel are not supported")
            dropped["fir_kernels"] += 1
            continue
        out[renames[prefix] + rest] = value
    return out, dropped


# --------------------------------------------------------------------------------------------------
# Configuration: hyper_parameters, cross-checked with shapes
# --------------------------------------------------------------------------------------------------


def _shape(sd: dict, key: str) -> tuple[int, ...] | None:
    value = sd.get(key)
    return tuple(value.shape) if value is not None else None


def _infer_from_shapes(sd: dict) -> dict[str, tuple[int, str]]:
    """Hyperparameters the tensor shapes pin down, each with the key it came from (of the configuration,
    only size_in, mlp_lr_mul and ab_norm leave no trace in the shapes)."""
    found: dict[str, tuple[int, str]] = {}
    conv1 = _shape(sd, "generator.conv1.conv.weight")
    if conv1 is not None and len(conv1) == 5:
        found["d_in"] = (conv1[2], "generator.conv1.conv.weight")
        found["c0"] = (conv1[1], "generator.conv1.conv.weight")
    mod = _shape(sd, "generator.conv1.conv.modulation.weight")
    if mod is not None and len(mod) == 2:
        found["d_style"] = (mod[1], "generator.conv1.conv.modulation.weight")
    depth = 0
    while f"layout_net.mlp.{depth + 1}.weight" in sd:
        depth += 1
    if depth:
        found["mlp_depth"] = (depth, f"layout_net.mlp.1..{depth}.weight")
        first = _shape(sd, "layout_net.mlp.1.weight")
        last = _shape(sd, f"layout_net.mlp.{depth}.weight")
        if first is not None and len(first) == 2:
            found["noise_dim"] = (first[1], "layout_net.mlp.1.weight")
            if depth > 1:
                found["mlp_width"] = (first[0], "layout_net.mlp.1.weight")
        if last is not None and len(last) == 2:
            found["layout_dim"] = (last[0], f"layout_net.mlp.{depth}.weight")
    n_up = 0
    while f"generator.to_rgbs.{n_up}.conv.weight" in sd:
        n_up += 1
    found["n_up"] = (n_up, "generator.to_rgbs.*")
    return found


def _stage_channels(sd: dict) -> list[int]:
    """Output channels of each upsampling stage, from the to_rgbs input channels."""
    channels = []
    j = 0
    while (s := _shape(sd, f"generator.to_rgbs.{j}.conv.weight")) is not None:
        channels.append(s[2] if len(s) == 5 else -1)
        j += 1
    return channels


def _channel_base_from_shapes(sd: dict, size_in: int, c0: int | None) -> tuple[int | None, int | None]:
    """(c_model, channel_multiplier) from the decoder widths, where the widths pin them down."""
    per_res = {}
    if c0 is not None:
        per_res[size_in] = c0
    for j, c in enumerate(_stage_channels(sd)):
        per_res[size_in * 2 ** (j + 1)] = c
    c_model = next((c // 8 for r, c in per_res.items() if r <= 32 and c % 8 == 0), None)
    factors = {64: 4, 128: 2, 256: 1}
    cm = None
    if c_model:
        cm = next((c // (factors[r] * c_model) for r, c in per_res.items()
                   if r in factors and c % (factors[r] * c_model) == 0), None)
    return c_model, cm


class _ConfigBuilder:
    """Collects each field from hyper_parameters / shapes / defaults and remembers where it came from."""

    def __init__(self, path: Path, hp: dict):
        self.path = path
        self.hp = hp
        self.gen = hp.get("generator") if isinstance(hp.get("generator"), dict) else {}
        self.ln = hp.get("layout_net") if isinstance(hp.get("layout_net"), dict) else {}
        self.values: dict[str, object] = {}
        self.sources: dict[str, str] = {}
        self.warnings: list[str] = []

    def hparam(self, *names: str):
        """First present value among dotted names like 'layout_net.feature_dim' or 'ab_norm'."""
        for name in names:
            head, _, field = name.rpartition(".")
            table = {"": self.hp, "generator": self.gen, "layout_net": self.ln}[head]
            value = table.get(field)
            if value is not None and not isinstance(value, str):
                return name, value
        return None, None

    def pick(self, field: str, hp_names: tuple[str, ...], shape: tuple[int, str] | None = None,
             default=None, warn_default: bool = False):
        name, value = self.hparam(*hp_names)
        if value is not None and shape is not None and value != shape[0]:
            raise CheckpointFormatError(
                f"{self.path}: hyper_parameters {name}={value} disagrees with the weights "
                f"({field}={shape[0]} from {shape[1]})")
        if value is not None:
            self.values[field], self.sources[field] = value, f"hyper_parameters {name}"
        elif shape is not None:
            self.values[field], self.sources[field] = shape[0], f"shape of {shape[1]}"
        else:
            self.values[field], self.sources[field] = default, "default"
            if warn_default:
                self.note(f"{field} is not in the checkpoint; using the official default {default}")
        return self.values[field]

    def note(self, message: str):
        self.warnings.append(message)
        warnings.warn(f"{self.path.name}: {message}", stacklevel=5)


def _check_supported_variant(b: _ConfigBuilder) -> None:
    for name in ("spatial_style", "generator.spatial_style", "layout_net.spatial_style"):
        _, value = b.hparam(name)
        if value is False:
            raise CheckpointFormatError(f"{b.path}: hyper_parameters {name}=False (a non-spatial-style "
                                        "BlobGAN); only spatial-style models are supported")
    _, norm = b.hparam("layout_net.norm_features")
    if norm is False:
        raise CheckpointFormatError(f"{b.path}: hyper_parameters layout_net.norm_features=False is not "
                                    "supported (every released model normalizes its blob features)")
    for name, expected in (("generator.c_out", 3), ("generator.const_in", False)):
        _, value = b.hparam(name)
        if value is not None and value != expected:
            raise CheckpointFormatError(f"{b.path}: hyper_parameters {name}={value} is not supported "
                                        f"(released models use {expected})")


def _build_config(path: Path, hp: dict, sd: dict) -> tuple[BlobGANConfig, _ConfigBuilder]:
    b = _ConfigBuilder(path, hp)
    _check_supported_variant(b)
    shapes = _infer_from_shapes(sd)
    d_in = b.pick("d_in", ("layout_net.feature_dim", "generator.override_c_in"), shapes.get("d_in"))
    _, override = b.hparam("generator.override_c_in")
    if override is not None and override != d_in:
        raise CheckpointFormatError(f"{path}: hyper_parameters generator.override_c_in={override} differs "
                                    f"from layout_net.feature_dim={d_in}")
    d_style = b.pick("d_style", ("layout_net.style_dim", "generator.style_dim", "dim"), shapes.get("d_style"))
    b.pick("noise_dim", ("layout_net.noise_dim", "noise_dim"), shapes.get("noise_dim"))
    b.pick("mlp_depth", ("layout_net.mlp_n_layers",), shapes.get("mlp_depth"))
    b.pick("mlp_width", ("layout_net.mlp_hidden_dim",), shapes.get("mlp_width"), default=1024)
    blobs_from_shape = None
    if "layout_dim" in shapes:
        per_blob = d_in + d_style + 7
        rest = shapes["layout_dim"][0] - (d_in + d_style + 1)
        if rest <= 0 or rest % per_blob:
            raise CheckpointFormatError(
                f"{path}: the last layout layer has {shapes['layout_dim'][0]} outputs, which is "
                f"K*(d_in+d_style+7) + d_in+d_style+1 for no whole K (d_in={d_in}, d_style={d_style})")
        blobs_from_shape = (rest // per_blob, shapes["layout_dim"][1])
    b.pick("n_blobs", ("n_features_max", "layout_net.n_features_max"), blobs_from_shape)
    size_in = b.pick("size_in", ("generator.size_in",), default=OFFICIAL_SIZE_IN_DEFAULT, warn_default=True)
    if not isinstance(size_in, int) or size_in < 4 or size_in & (size_in - 1):
        raise CheckpointFormatError(f"{path}: generator.size_in must be a power of two >= 4, got {size_in}")
    n_up = shapes["n_up"][0]
    if n_up == 0:
        raise CheckpointFormatError(f"{path}: the generator has no upsampling stages (generator.to_rgbs.*)")
    b.pick("resolution", ("generator.size", "resolution"), (size_in * 2 ** n_up, "the number of to_rgbs stages"))
    c0 = shapes.get("c0", (None, ""))[0]
    c_model_shape, cm_shape = _channel_base_from_shapes(sd, size_in, c0)
    src = "the decoder channel widths"
    b.pick("channel_multiplier", ("generator.channel_multiplier",),
           (cm_shape, src) if cm_shape is not None else None, default=2)
    c_model = b.pick("c_model", ("generator.c_model",), (c_model_shape, src) if c_model_shape else None)
    if c_model is None:
        if c0 is None:
            raise CheckpointFormatError(f"{path}: cannot determine c_model (no generator.conv1.conv.weight)")
        cm = b.values["channel_multiplier"]
        factor = {64: 4 * cm, 128: 2 * cm, 256: cm, 512: cm / 2, 1024: cm / 4}.get(size_in, 8)
        b.values["c_model"], b.sources["c_model"] = int(round(c0 / factor)), "shape (with channel_multiplier)"
    b.pick("mlp_lr_mul", ("layout_net.mlp_lr_mul",), default=0.01)
    b.pick("ab_norm", ("ab_norm",), default=0.02, warn_default=True)
    b.values["palette"] = "kld" if "kitchen" in path.name.lower() else "bed_conf"
    b.sources["palette"] = "file name"
    for field in ("resolution", "size_in", "c_model", "channel_multiplier", "n_blobs", "d_in", "d_style",
                  "noise_dim", "mlp_width", "mlp_depth"):
        value = b.values[field]
        if isinstance(value, float) and value.is_integer():
            b.values[field] = int(value)
        if not isinstance(b.values[field], int) or isinstance(b.values[field], bool):
            raise CheckpointFormatError(f"{path}: {field} must be an integer, got {value!r} "
                                        f"(from {b.sources[field]})")
    for field in ("mlp_lr_mul", "ab_norm"):
        if not isinstance(b.values[field], (int, float)) or not math.isfinite(b.values[field]):
            raise CheckpointFormatError(f"{path}: {field} must be a number, got {b.values[field]!r}")
        b.values[field] = float(b.values[field])
    try:
        config = BlobGANConfig(**b.values)
    except ValueError as e:
        raise CheckpointFormatError(f"{path}: {e}") from e
    return config, b


def _jitter(hp: dict) -> dict[str, float]:
    jitter = {}
    for name in ("xy", "shift", "angle"):
        value = hp.get(f"feature_jitter_{name}")
        jitter[name] = float(value) if isinstance(value, (int, float)) else 0.0
    ln = hp.get("layout_net")
    if isinstance(ln, dict) and isinstance(ln.get("feature_jitter_xy"), (int, float)) and ln["feature_jitter_xy"]:
        # a legacy field: the official code drops it when it builds the layout network, so it never acted
        jitter["legacy_layout_net_xy"] = float(ln["feature_jitter_xy"])
    return jitter


def _typed(value, kind: type):
    """``value`` if it is a ``kind`` (provenance copied into metadata must be a plain value), else None."""
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


def read_official_checkpoint(path: str | Path) -> tuple[BlobGANConfig, dict[str, torch.Tensor], dict]:
    """Read an official BlobGAN Lightning checkpoint without executing anything stored in it.

    Returns ``(config, state_dict, info)``: ``state_dict`` maps our names (``expected_shapes(config)``)
    to tensors that are copy-on-write views of the memory-mapped file, so only these tensors are read
    from disk (a legacy-format file, which cannot be mapped, is read whole); ``info`` holds ``epoch``,
    ``global_step``, ``lightning_version``, ``jitter_trained`` (the training jitter, never applied at
    inference: ``jitter_at_inference`` is ``"off"``), ``config_sources`` (where each field came from),
    ``ignored`` (counts of dropped tensors), ``warnings`` and the plain ``hyper_parameters``.
    """
    path = Path(path)
    ckpt = load_torch_file(path, OFFICIAL_CHECKPOINT_GLOBALS)
    raw_sd, top = _state_dict_of(ckpt, path)
    _classify(raw_sd, path)
    keys = [k for k in raw_sd if isinstance(k, str)]
    use_ema = any(k.startswith("generator_ema.") for k in keys) and any(k.startswith("layout_net_ema.")
                                                                        for k in keys)
    notes = []
    if not use_ema:  # trained with accumulate=False: only the training copies exist
        notes.append("the checkpoint has no EMA weights; using the training copies (generator.*, layout_net.*)")
        warnings.warn(f"{path.name}: {notes[-1]}", stacklevel=2)
    state_dict, dropped = _select(raw_sd, EMA_RENAMES if use_ema else TRAINING_RENAMES, path)

    hp_raw = top.get("hyper_parameters")
    try:
        hp = plain(hp_raw) if hp_raw is not None else {}
    except RecursionError as e:
        raise CheckpointFormatError(f"{path}: hyper_parameters are nested too deeply to read") from e
    if not isinstance(hp, dict):
        hp = {}
    if not hp:
        notes.append("the checkpoint has no hyper_parameters; the configuration comes from tensor shapes")
    config, builder = _build_config(path, hp, state_dict)
    validate_state_dict(state_dict, config, source=str(path))

    counts = _prefix_counts(keys)
    used = ("generator_ema", "layout_net_ema") if use_ema else ("generator", "layout_net")
    ignored = {
        "training_copies": sum(counts.get(p, 0) for p in ("generator", "layout_net")) if use_ema else 0,
        "discriminator": counts.get("discriminator", 0),
        "noise_buffers": dropped["noise_buffers"],
        "fir_kernels": dropped["fir_kernels"],
        "other": sum(n for p, n in counts.items()
                     if p not in used + ("generator", "layout_net", "discriminator")),
    }
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in state_dict.values()})
    info = {
        "format": "official-lightning",
        "source": path.name,
        "epoch": _typed(top.get("epoch"), int),
        "global_step": _typed(top.get("global_step"), int),
        "lightning_version": _typed(top.get("pytorch-lightning_version"), str),
        "weights": "ema" if use_ema else "training",
        "dtype": ",".join(dtypes),
        "jitter_trained": _jitter(hp),
        "jitter_at_inference": "off",
        "config_sources": dict(builder.sources),
        "ignored": ignored,
        "warnings": notes + builder.warnings,
        "hyper_parameters": hp,
    }
    return config, state_dict, info


# --------------------------------------------------------------------------------------------------
# Mean latent
# --------------------------------------------------------------------------------------------------


def read_mean_latent_file(path: str | Path, mlp_width: int | None = None) -> torch.Tensor:
    """The truncation mean ([H] float tensor) from a ``.pt`` file holding a [H] or [1, H] tensor."""
    path = Path(path)
    obj = load_torch_file(path)  # a bare tensor: no stand-ins allowed
    if isinstance(obj, dict) and len(obj) == 1 and isinstance(next(iter(obj.values())), torch.Tensor):
        obj = next(iter(obj.values()))
    if not isinstance(obj, torch.Tensor):
        raise CheckpointFormatError(f"{path}: expected a mean-latent tensor of shape [H] or [1, H], found "
                                    f"a {type(obj).__name__}")
    if obj.dim() == 2 and obj.shape[0] == 1:
        obj = obj[0]
    if obj.dim() != 1 or not obj.is_floating_point():
        raise CheckpointFormatError(f"{path}: the mean latent must be a float tensor of shape [H] or [1, H], "
                                    f"got {obj.dtype} {list(obj.shape)}")
    if mlp_width is not None and obj.numel() != mlp_width:
        raise CheckpointFormatError(f"{path}: the mean latent has {obj.numel()} values, but the layout MLP is "
                                    f"{mlp_width} wide")
    return obj.float().clone()


def find_mean_latent(ckpt_path: str | Path, mlp_width: int | None = None) -> torch.Tensor | None:
    """``<stem>_mean_latent.pt`` beside an official checkpoint, as an [H] tensor, or None if absent."""
    ckpt_path = Path(ckpt_path)
    candidate = ckpt_path.with_name(f"{ckpt_path.stem}_mean_latent.pt")
    if not candidate.is_file():
        return None
    return read_mean_latent_file(candidate, mlp_width)
