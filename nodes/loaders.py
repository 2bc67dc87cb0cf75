"""Load BlobGAN: a checkpoint from models/blobgan (or the embedded default) to a BLOBGAN_MODEL."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch

from blobgan_core.devices import resolve_device as core_resolve_device
from blobgan_core.loading import DEFAULT_MODEL_PATH, load_model

from . import comfy
from .errors import input_error
from .inputs import checked_inputs

DEFAULT_CHOICE = "default (embedded)"
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
CACHE_SIZE = 3  # models kept loaded across runs; ComfyUI's own output cache holds the current one too

_cache: OrderedDict[tuple, torch.nn.Module] = OrderedDict()


def resolve_device(device: str) -> torch.device:
    """"auto" -> ComfyUI's device (the best available outside ComfyUI); else the named one, if present."""
    if device == "auto":
        return comfy.torch_device()
    if device not in DEVICES:
        raise input_error("Load BlobGAN", "device", f"must be one of {list(DEVICES)}, got {device!r}")
    try:
        return core_resolve_device(device)
    except ValueError as e:
        raise input_error("Load BlobGAN", "device", str(e)) from None


def resolve_model_path(model_name: str) -> Path | None:
    """None for the embedded default, else the file's full path; an unknown name lists the choices."""
    if not isinstance(model_name, str):
        raise input_error("Load BlobGAN", "model_name", f"must be a model file name, got {model_name!r}")
    if model_name == DEFAULT_CHOICE:
        return None
    path = comfy.model_path(model_name)
    if path is None:
        choices = [DEFAULT_CHOICE, *comfy.model_names()]
        raise input_error("Load BlobGAN", "model_name",
                          f"no model file {model_name!r} in {comfy.model_folders()}; available: {choices}")
    return path


def load_blobgan(model_name: str, device: str = "auto", dtype: str = "auto") -> torch.nn.Module:
    """The BlobGAN for a combo choice, from the cache when the same file (same mtime) was loaded on the
    same device and dtype before. Under ComfyUI the model is handed to its model management."""
    path = resolve_model_path(model_name)
    if dtype not in DTYPES:
        raise input_error("Load BlobGAN", "dtype", f"must be one of {list(DTYPES)}, got {dtype!r}")
    load_device = resolve_device(device)
    # float32 for "auto": the generator is small, and half precision shifts colours visibly
    torch_dtype = "float32" if dtype == "auto" else dtype
    file = path or DEFAULT_MODEL_PATH
    mtime = file.stat().st_mtime_ns if file.is_file() else None
    key = (str(file), mtime, str(load_device), torch_dtype)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    try:
        # under ComfyUI the model starts parked on the offload device; prepare() loads it when used
        start = comfy.offload_device() if comfy.in_comfyui() else load_device
        model = load_model(path, device=start, dtype=torch_dtype)
    except (FileNotFoundError, ValueError) as e:
        if path is None and not DEFAULT_MODEL_PATH.is_file():
            other = (f"put a BlobGAN checkpoint (.ckpt or .safetensors) in {comfy.model_folders()[0]} and "
                     "choose it here" if comfy.in_comfyui() else "give a checkpoint with --model (the headless "
                     f"runner) or put one in a folder named by ${comfy.MODELS_DIR_ENV}")
            raise input_error("Load BlobGAN", "model_name", f"the embedded default model is missing "
                              f"({DEFAULT_MODEL_PATH}); reinstall the pack, or {other}") from e
        raise input_error("Load BlobGAN", "model_name", f"cannot load {model_name!r}: {e}") from e
    if not comfy.manage(model, load_device):
        model.to(load_device)
    _cache[key] = model
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model


@checked_inputs("Load BlobGAN", own=("model_name",))
class LoadBlobGAN:
    DESCRIPTION = ("Loads a BlobGAN generator (layout network + decoder) from models/blobgan, or the small "
                   "embedded default model. Official .ckpt files and converted .safetensors both work; "
                   "nothing stored in a file is executed.")
    CATEGORY = "BlobGAN"
    FUNCTION = "load"
    RETURN_TYPES = ("BLOBGAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The BlobGAN generator, for Sample Blobs.",)
    SEARCH_ALIASES = ["blobgan checkpoint", "load blob model"]

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model_name": ([DEFAULT_CHOICE, *comfy.model_names()], {
                    "default": DEFAULT_CHOICE,
                    "tooltip": "A .ckpt or .safetensors file in models/blobgan, or the embedded default "
                               "model that ships with the pack."}),
                "device": (list(DEVICES), {
                    "default": "auto",
                    "tooltip": "Where the model runs; auto = ComfyUI's device (the GPU unless --cpu)."}),
                "dtype": (list(DTYPES), {
                    "default": "auto",
                    "tooltip": "Weight precision; auto = float32. float16/bfloat16 save memory on a GPU "
                               "at a small cost in colour accuracy."}),
            }
        }

    def load(self, model_name, device="auto", dtype="auto"):
        return (load_blobgan(model_name, device, dtype),)
