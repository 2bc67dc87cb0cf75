"""``load_model``: one entry point from a file (or the embedded default) to a ready BlobGAN."""

from __future__ import annotations

from pathlib import Path

import torch

from .config import BlobGANConfig
from .decoder import layer_names
from .devices import resolve_device
from .generator import BlobGAN

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
DEFAULT_MODEL_NAME = "blobgan_rooms.safetensors"
DEFAULT_MODEL_PATH = DEFAULT_MODEL_DIR / DEFAULT_MODEL_NAME

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_dtype(dtype) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def model_from_state_dict(config: BlobGANConfig, state_dict: dict[str, torch.Tensor]) -> BlobGAN:
    """Build a BlobGAN and load weights, naming any missing, unexpected or misshapen key."""
    # built on the meta device and given the file's tensors (assign=True): a checkpoint of any size is
    # held in memory once, not twice
    with torch.device("meta"):
        model = BlobGAN(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = [f"{k}: file {list(state_dict[k].shape)}, model {list(s)}"
             for k, s in expected.items() if k in state_dict and tuple(state_dict[k].shape) != s]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append("wrong shapes " + "; ".join(wrong[:5]))
        raise ValueError("the weights do not fit the configuration " + config.to_json() + ": " + ", ".join(parts))
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval().requires_grad_(False)


def measured_drag_layer(config: BlobGANConfig, info: dict) -> str | None:
    """The file's ``drag_layer`` metadata when it names a decoder layer of this configuration, else None
    (an unknown name is ignored rather than making the model unloadable: the drag falls back to its rule)."""
    name = info.get("drag_layer")
    return name if name in layer_names(config) else None


def check_finite(path: str | Path, state_dict: dict[str, torch.Tensor]) -> None:
    """Refuse a file whose weights hold NaN or infinities, naming the first such tensor (they would load
    and then render black or fail far from the cause)."""
    for name, t in state_dict.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{path}: tensor {name!r} holds NaN or infinite values; the file is damaged")


def load_model(
    path: str | Path | None = None,
    *,
    device: str | torch.device | None = None,  # None or "auto" = CUDA, then MPS, then CPU
    dtype: str | torch.dtype | None = None,    # "float32" (default), "float16", "bfloat16"
    mean_latent: str | Path | torch.Tensor | None = None,
) -> BlobGAN:
    """Load a BlobGAN generator for inference.

    ``path``: an official Lightning ``.ckpt``, our ``.safetensors``, or None for the embedded default
    model. The truncation mean latent comes from ``mean_latent`` (a tensor or a ``.pt`` file), else from
    the file itself or ``<stem>_mean_latent.pt`` beside it, else it is computed (10,000 seeded samples).
    Loading never executes code stored in the file.
    """
    from .checkpoint import read_checkpoint, read_mean_latent_file

    if path is None:
        if not DEFAULT_MODEL_PATH.is_file():
            raise FileNotFoundError(
                f"the embedded default model is missing ({DEFAULT_MODEL_PATH}); reinstall the pack, or pass "
                "the path of a BlobGAN checkpoint (.ckpt or .safetensors)")
        path = DEFAULT_MODEL_PATH
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    config, state_dict, found_mean, info = read_checkpoint(path)
    check_finite(path, state_dict)
    model = model_from_state_dict(config, state_dict)
    model.drag_layer = measured_drag_layer(config, info)
    if isinstance(mean_latent, (str, Path)):
        mean_latent = read_mean_latent_file(mean_latent)
    if mean_latent is None:
        mean_latent = found_mean
    if mean_latent is not None:
        check_finite(path, {"mean latent": mean_latent})
    model = model.to(device=resolve_device(device),
                     dtype=resolve_dtype(dtype))
    model.set_mean_latent(mean_latent if mean_latent is not None else model.compute_mean_latent())
    model.source_path = str(path)
    return model
