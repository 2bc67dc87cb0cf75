"""The layout encoder E: image -> raw layout vector o, the output of the layout network's last layer
(paper's inversion, official ``BlobGANInverter``). ``model.layout_net.decode(E(x))`` is a layout.

Two file forms, both read without running pickled code:

- ours: ``<model stem>_encoder.safetensors`` (``save_encoder``), metadata ``format=blobgan-encoder``
  and the network's widths;
- official: ``<model stem>_invert.ckpt``, a Lightning checkpoint whose ``inverter.*`` keys hold a
  StyleGAN2 discriminator (no minibatch stddev) with a D_out-wide head, at 256 px.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..checkpoint.torch_file import CheckpointFormatError, load_torch_file, sniff_torch_format
from ..config import BlobGANConfig
from ..image_net import ResidualImageNet
from ..loading import check_finite

ENCODER_FORMAT = "blobgan-encoder"
ENCODER_VERSION = "1"


class LayoutEncoder(ResidualImageNet):
    """Images [N,3,R,R] in [-1,1] -> raw layout vectors [N, layout_dim]."""

    def __init__(self, resolution: int, layout_dim: int, channel_base: int = 32768, max_channels: int = 512):
        super().__init__(resolution, layout_dim, channel_base, max_channels, stddev_group=0)
        self.layout_dim = layout_dim

    @classmethod
    def official(cls, layout_dim: int, resolution: int = 256) -> LayoutEncoder:
        """The official inverter's widths (channel multiplier 2)."""
        return cls(resolution, layout_dim, channel_base=32768, max_channels=512)

    @classmethod
    def for_model(cls, config: BlobGANConfig, channel_base: int = 4096, max_channels: int = 128) -> LayoutEncoder:
        """A small encoder for ``config`` (the default model's: 64, 128, 128 ... channels at 64 px)."""
        return cls(config.resolution, config.layout_dim, channel_base, max_channels)

    def widths(self) -> dict:
        return {"resolution": self.resolution, "layout_dim": self.layout_dim,
                "channel_base": self.channel_base, "max_channels": self.max_channels}

    def fits(self, config: BlobGANConfig) -> str | None:
        """None when this encoder serves a model of ``config``, else why not."""
        if self.layout_dim != config.layout_dim:
            return f"it predicts {self.layout_dim} layout values; the model's layout has {config.layout_dim}"
        return None


def save_encoder(path: str | Path, encoder: LayoutEncoder, extra_meta: dict | None = None,
                 dtype: torch.dtype = torch.float16) -> None:
    """Write ``encoder`` to a ``.safetensors`` file (written beside and renamed into place). Weights are
    stored in ``dtype`` (half by default: half the size, and the fit after the encoder absorbs the
    rounding); they are read back as float32."""
    path = Path(path)
    meta = {"format": ENCODER_FORMAT, "format_version": ENCODER_VERSION,
            "encoder": json.dumps(encoder.widths(), sort_keys=True)}
    meta.update({k: str(v) for k, v in (extra_meta or {}).items()})
    tmp = path.with_name(path.name + ".partial")
    save_file({k: v.detach().to(dtype).contiguous().cpu() for k, v in encoder.state_dict().items()}, str(tmp), meta)
    tmp.replace(path)


def _load_ours(path: Path) -> LayoutEncoder:
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != ENCODER_FORMAT:
                raise CheckpointFormatError(f"{path} is not a BlobGAN encoder (metadata format="
                                            f"{meta.get('format')!r}, expected {ENCODER_FORMAT!r})")
            state = {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as e:
        raise CheckpointFormatError(f"{path}: cannot read the encoder ({e})") from None
    try:
        widths = json.loads(meta["encoder"])
        encoder = LayoutEncoder(**{k: int(widths[k]) for k in ("resolution", "layout_dim", "channel_base",
                                                               "max_channels")})
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointFormatError(f"{path}: the encoder metadata is damaged ({e})") from None
    _load_state(encoder, state, path)
    return encoder


# official rosinality ConvLayer is a Sequential: [Blur,] EqualConv2d, FusedLeakyReLU
_OFFICIAL_RENAMES = [
    (r"convs\.0\.0\.weight", "from_rgb.conv.weight"),
    (r"convs\.0\.1\.bias", "from_rgb.act.bias"),
    (r"convs\.(\d+)\.conv1\.0\.weight", "blocks.{i}.conv1.conv.weight"),
    (r"convs\.(\d+)\.conv1\.1\.bias", "blocks.{i}.conv1.act.bias"),
    (r"convs\.(\d+)\.conv2\.1\.weight", "blocks.{i}.conv2.conv.weight"),
    (r"convs\.(\d+)\.conv2\.2\.bias", "blocks.{i}.conv2.act.bias"),
    (r"convs\.(\d+)\.skip\.1\.weight", "blocks.{i}.skip.conv.weight"),
    (r"final_conv\.0\.weight", "final_conv.conv.weight"),
    (r"final_conv\.1\.bias", "final_conv.act.bias"),
    (r"final_linear\.0\.(weight|bias)", "final_linear.{p}"),
    (r"final_linear\.1\.(weight|bias)", "out.{p}"),
]


def official_to_ours(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``inverter.*`` keys of an official checkpoint -> our names (blur kernels, which are fixed, and
    every other key are left out)."""
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not key.startswith("inverter."):
            continue
        name = key[len("inverter."):]
        for pattern, template in _OFFICIAL_RENAMES:
            m = re.fullmatch(pattern, name)
            if m:
                groups = m.groups()
                if "{i}" in template:
                    out[template.format(i=int(groups[0]) - 1)] = value
                elif "{p}" in template:
                    out[template.format(p=groups[0])] = value
                else:
                    out[template] = value
                break
    return out


def _load_official(path: Path) -> LayoutEncoder:
    from ..checkpoint.hparams import OFFICIAL_CHECKPOINT_GLOBALS

    ckpt = load_torch_file(path, allow=OFFICIAL_CHECKPOINT_GLOBALS)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CheckpointFormatError(f"{path} holds a {type(ckpt).__name__}, not an inverter checkpoint")
    ours = official_to_ours(state)
    head = ours.get("out.weight")
    if head is None or head.dim() != 2:
        raise CheckpointFormatError(f"{path} has no 'inverter.final_linear.1.weight'; it is not an official "
                                    "BlobGAN inverter checkpoint")
    first = ours.get("from_rgb.conv.weight")
    blocks = 1 + max((int(k.split(".")[1]) for k in ours if k.startswith("blocks.")), default=-1)
    resolution = 4 * 2 ** blocks
    c_first = int(first.shape[0]) if first is not None else 128
    encoder = LayoutEncoder(resolution, int(head.shape[0]), channel_base=c_first * resolution,
                            max_channels=int(head.shape[1]))
    _load_state(encoder, ours, path)
    return encoder


def _load_state(encoder: LayoutEncoder, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = {k: tuple(v.shape) for k, v in encoder.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if missing or unexpected or wrong:
        raise CheckpointFormatError(
            f"{path}: the encoder weights do not fit its declared network (missing {missing[:4]}, unexpected "
            f"{unexpected[:4]}, wrong shapes {wrong[:4]})")
    check_finite(path, state)
    encoder.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)


def load_encoder(path: str | Path) -> LayoutEncoder:
    """Read an encoder file: ours (``.safetensors``) or an official ``<stem>_invert.ckpt``, by content."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no encoder file at {path}")
    encoder = _load_official(path) if sniff_torch_format(path) is not None else _load_ours(path)
    return encoder.eval().requires_grad_(False)


def encoder_path_for(model_path: str | Path) -> Path | None:
    """The encoder file that belongs to a model file: ``<stem>_encoder.safetensors`` or the official
    ``<stem>_invert.ckpt`` beside it; None when there is neither."""
    model_path = Path(model_path)
    for name in (f"{model_path.stem}_encoder.safetensors", f"{model_path.stem}_invert.ckpt"):
        candidate = model_path.with_name(name)
        if candidate.is_file():
            return candidate
    return None
