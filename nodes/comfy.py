"""The one place that touches ComfyUI: devices, model management, progress, interruption, the
``models/blobgan`` folder and preview files, each with a fallback for when ComfyUI is absent (tests,
the headless runner).

ComfyUI modules are imported lazily inside these functions: importing ``comfy.model_management``
outside ComfyUI would parse the command line and probe devices, and the pack must import without it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging
import os
import uuid
from pathlib import Path

import torch

from blobgan_core.images import save_comfy_images
from blobgan_core.invert.tuning import base_model

log = logging.getLogger("blobgan")

MODEL_FOLDER = "blobgan"                  # folder_paths key and the folder name under models/
MODEL_EXTENSIONS = {".ckpt", ".safetensors"}
MODELS_DIR_ENV = "BLOBGAN_MODELS_DIR"     # outside ComfyUI: os.pathsep-separated model folders


@functools.cache
def comfy_module(name: str):
    """The ComfyUI module ``name`` (e.g. "comfy.model_management"), or None outside ComfyUI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def in_comfyui() -> bool:
    """True inside a ComfyUI process (its top-level ``folder_paths`` module imports)."""
    return comfy_module("folder_paths") is not None


# -- devices ---------------------------------------------------------------------------------------

def torch_device() -> torch.device:
    """ComfyUI's compute device (respects --cpu, --directml, ...); outside ComfyUI: CUDA, MPS, CPU."""
    mm = comfy_module("comfy.model_management") if in_comfyui() else None
    if mm is not None:
        return mm.get_torch_device()
    from blobgan_core.devices import resolve_device

    return resolve_device("auto")


def offload_device() -> torch.device:
    """Where ComfyUI parks models it is not using (normally the CPU)."""
    mm = comfy_module("comfy.model_management") if in_comfyui() else None
    return mm.unet_offload_device() if mm is not None else torch.device("cpu")


# -- model management ------------------------------------------------------------------------------

class ManagedBlobGAN(torch.nn.Module):
    """What ComfyUI's ModelPatcher moves between devices: the BlobGAN plus the plain, writable
    ``device`` attribute the patcher keeps (``BlobGAN.device`` is a read-only property)."""

    def __init__(self, model: torch.nn.Module, device: torch.device):
        super().__init__()
        self.blobgan = model
        self.device = device

    def get_dtype(self) -> torch.dtype:
        return self.blobgan.dtype


# attribute on the BlobGAN holding its ModelPatcher (not a WeakKeyDictionary: the patcher refers back to
# the model, so such an entry would never die; as an attribute the pair is one collectable cycle)
_PATCHER_ATTR = "_comfy_patcher"


def manage(model: torch.nn.Module, load_device: torch.device) -> bool:
    """Hand ``model`` (already on ``offload_device()``) to ComfyUI's model management, which then counts
    it in its memory budget, loads it to ``load_device`` before use and offloads it when other models
    need the room. Returns False outside ComfyUI, or if this ComfyUI's ModelPatcher refuses it
    (then the caller keeps the model on its device itself)."""
    mp = comfy_module("comfy.model_patcher") if in_comfyui() else None
    if mp is None:
        return False
    try:
        patcher = mp.ModelPatcher(ManagedBlobGAN(model, offload_device()), load_device=load_device,
                                  offload_device=offload_device())
    except Exception as e:  # an unknown ComfyUI version: run unmanaged rather than not at all
        log.warning("BlobGAN: ComfyUI's ModelPatcher rejected the model (%s); it stays on %s unmanaged",
                    e, load_device)
        return False
    object.__setattr__(model, _PATCHER_ATTR, patcher)  # a plain attribute, not a submodule
    return True


def prepare(model: torch.nn.Module) -> None:
    """Make sure ``model`` sits on its compute device before use (ComfyUI may have offloaded it). A tuned
    view (an inverted scene's model) is prepared through the patcher of the model it was made from."""
    patcher = getattr(base_model(model), _PATCHER_ATTR, None)
    if patcher is None:
        return
    mm = comfy_module("comfy.model_management")
    kwargs = {}
    # a full load keeps the mean-latent buffer with the weights (a partial "lowvram" load moves only
    # modules with parameters); the model is small, so partial loading would gain nothing anyway
    if "force_full_load" in inspect.signature(mm.load_models_gpu).parameters:
        kwargs["force_full_load"] = True
    mm.load_models_gpu([patcher], **kwargs)
    # the patcher moves the loaded model's tensors, which a view shares; a view's own tuned ones follow here
    if model.device != patcher.load_device or base_model(model) is not model:
        model.to(patcher.load_device)


# -- progress and interruption ---------------------------------------------------------------------

class Progress:
    """A progress bar in the ComfyUI UI (``comfy.utils.ProgressBar``); silent outside ComfyUI.
    ``step()`` also honours the Cancel button, so call it between chunks of work."""

    def __init__(self, total: int):
        utils = comfy_module("comfy.utils") if in_comfyui() else None
        self._bar = utils.ProgressBar(total) if utils is not None else None

    def step(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)
        check_interrupted()


def cancel_requested() -> bool:
    """A ``should_stop`` callback for the core's loops: Cancel raises ComfyUI's own exception here (which
    ends the run as ComfyUI expects); otherwise False."""
    check_interrupted()
    return False


def check_interrupted() -> None:
    """Raise ComfyUI's InterruptProcessingException if the user pressed Cancel; no-op outside it."""
    mm = comfy_module("comfy.model_management") if in_comfyui() else None
    if mm is not None:
        mm.throw_exception_if_processing_interrupted()


# -- the models/blobgan folder ---------------------------------------------------------------------

def register_model_folder() -> None:
    """Register ``models/blobgan`` with folder_paths for .ckpt and .safetensors files, keeping any
    folders the user configured for ``blobgan`` in extra_model_paths.yaml. No-op outside ComfyUI."""
    fp = comfy_module("folder_paths") if in_comfyui() else None
    if fp is None:
        return
    default_dir = os.path.join(fp.models_dir, MODEL_FOLDER)
    if MODEL_FOLDER in fp.folder_names_and_paths:
        dirs, extensions = fp.folder_names_and_paths[MODEL_FOLDER]
        if default_dir not in dirs:
            dirs.append(default_dir)
        # a key created by add_model_folder_path has an empty set (= every file); narrow it to ours
        fp.folder_names_and_paths[MODEL_FOLDER] = (dirs, set(extensions) | MODEL_EXTENSIONS)
    else:
        fp.folder_names_and_paths[MODEL_FOLDER] = ([default_dir], set(MODEL_EXTENSIONS))


_extra_model_dirs: list[Path] = []  # the headless runner's --model folder, searched first


@contextlib.contextmanager
def extra_model_folder(folder: Path | None):
    """Outside ComfyUI, let Load BlobGAN also find model files in ``folder`` while the block runs."""
    if folder is None:
        yield
        return
    _extra_model_dirs.insert(0, Path(folder))
    try:
        yield
    finally:
        _extra_model_dirs.remove(Path(folder))


def _fallback_model_dirs() -> list[Path]:
    return [*_extra_model_dirs, *(Path(d) for d in os.environ.get(MODELS_DIR_ENV, "").split(os.pathsep) if d)]


def model_names() -> list[str]:
    """Model files for the Load BlobGAN combo: ComfyUI's ``blobgan`` folder list, or outside ComfyUI
    the files in the folders of $BLOBGAN_MODELS_DIR."""
    fp = comfy_module("folder_paths") if in_comfyui() else None
    if fp is not None:
        return list(fp.get_filename_list(MODEL_FOLDER))
    names = set()
    for d in _fallback_model_dirs():
        if d.is_dir():
            names.update(p.relative_to(d).as_posix() for p in d.rglob("*")
                         if p.is_file() and p.suffix in MODEL_EXTENSIONS)
    return sorted(names)


def model_path(name: str) -> Path | None:
    """Full path of a model file listed by ``model_names()``, or None if there is none by that name."""
    fp = comfy_module("folder_paths") if in_comfyui() else None
    if fp is not None:
        path = fp.get_full_path(MODEL_FOLDER, name)
        return Path(path) if path else None
    for d in _fallback_model_dirs():
        p = d / name
        # names come from a combo; still refuse anything that climbs out of the folder
        if p.is_file() and p.resolve().is_relative_to(d.resolve()):
            return p
    return None


def model_folders() -> list[str]:
    """The folders searched for model files (for error messages)."""
    fp = comfy_module("folder_paths") if in_comfyui() else None
    if fp is not None:
        return list(fp.get_folder_paths(MODEL_FOLDER))
    return [str(d) for d in _fallback_model_dirs()] or [f"(none: set ${MODELS_DIR_ENV})"]


# -- previews --------------------------------------------------------------------------------------

def save_previews(images: torch.Tensor, prefix: str = "blobgan") -> list[dict]:
    """Write IMAGE [B,H,W,3] in [0,1] as PNGs into ComfyUI's temp folder and return the ``ui`` entries
    the frontend shows ({"filename", "subfolder", "type": "temp"}). Outside ComfyUI: nothing, []."""
    fp = comfy_module("folder_paths") if in_comfyui() else None
    if fp is None:
        return []
    tag = uuid.uuid4().hex[:8]  # temp files of earlier runs must not be overwritten while shown
    paths = save_comfy_images(images, fp.get_temp_directory(), f"{prefix}_{tag}", compress_level=1)
    return [{"filename": p.name, "subfolder": "", "type": "temp"} for p in paths]
