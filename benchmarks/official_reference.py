"""Run the official BlobGAN generator from a user-supplied checkout, for side-by-side benchmarks.

The official code (https://github.com/dave-epstein/blobgan) is not vendored here: the user points
`--official-repo` at their own checkout and this module imports it unmodified. Three things stand in
the way of importing it on a plain CPU machine, and each is neutralised only while it is imported:

* `op/fused_act.py` and `op/upfirdn2d.py` compile CUDA sources at import time through
  `torch.utils.cpp_extension.load`; that call is replaced by a no-op. Both ops choose their pure
  PyTorch branch at call time when tensors are on the CPU, so the compiled module is never needed.
* Its `utils` and `models` packages import training/logging/notebook libraries (Lightning, wandb,
  torchvision, clean-fid, lpips, matplotlib, ipywidgets, moviepy, ...) that inference never calls.
  Those names resolve to permissive placeholder modules; `LightningModule` becomes a plain
  `nn.Module`, so the official `BlobGAN` class itself is built and its own `gen` method renders.
* Python >= 3.12 has no `distutils`, which the official conv helper imports for a version check.

The official packages are named `models` and `utils`, which could clash with modules of the host
process, so they are imported with those names temporarily removed from `sys.modules` and
everything the import added (official modules, placeholders) is removed again afterwards.

Only `einops` (pure Python, `pip install einops`) is a real extra dependency of the official code.

This module is for benchmarks only: the library and the tests must not import it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

# Files whose presence identifies a usable checkout (paths relative to the repository root).
_REQUIRED_FILES = (
    "src/models/blobgan.py",
    "src/models/networks/layoutstylegan.py",
    "src/models/networks/layoutnet.py",
    "src/models/networks/stylegan.py",
    "src/utils/misc.py",
)

# Top-level packages imported by the official code at module level but unused at inference.
_PLACEHOLDER_PACKAGES = frozenset({
    "pytorch_lightning", "lightning", "torchvision", "wandb", "cleanfid", "lpips", "matplotlib",
    "omegaconf", "ipywidgets", "IPython", "moviepy", "inputimeout", "tqdm", "hydra",
})

# Names of the official top-level packages (they live in <repo>/src).
_OFFICIAL_PACKAGES = ("models", "utils")

# State-dict prefixes of the EMA modules used for inference, and the un-suffixed names this
# project uses for the same modules.
_EMA_PREFIXES = {"generator.": "generator_ema.", "layout_net.": "layout_net_ema."}


def official_available(repo_path: str | Path) -> bool:
    """True when `repo_path` looks like an official BlobGAN checkout and `einops` is importable."""
    root = Path(repo_path)
    has_files = all((root / rel).is_file() for rel in _REQUIRED_FILES)
    return has_files and importlib.util.find_spec("einops") is not None


class OfficialGenerator:
    """The official `BlobGAN` module (EMA weights) with a small rendering entry point."""

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        self.model = model
        self.dtype = dtype

    @torch.no_grad()
    def render(
        self,
        z: torch.Tensor,
        noise: Sequence[torch.Tensor] | None = None,
        truncation: float | None = None,
        mean_latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Render images with the official `BlobGAN.gen` (EMA weights, no jitter).

        Args:
            z: [N, noise_dim] layout noise.
            noise: per-layer noise maps in the official order (conv1, then two per resolution),
                each [1 or N, 1, R_i, R_i]; None lets the official code draw fresh noise.
            truncation: 0 = none, 1 = full; None runs the layout MLP in one pass.
            mean_latent: [H] or [1, H] mean of the layout MLP's last hidden layer; required
                when `truncation` is not None.
        Returns:
            [N, 3, R, R] raw generator output, roughly in [-1, 1] (before `norm_img`).
        """
        if truncation is not None:
            if mean_latent is None:
                raise ValueError("mean_latent is required when truncation is not None")
            self.model.mean_latent = mean_latent.to(self.dtype)
        if noise is not None:
            noise = [n.to(self.dtype) for n in noise]
        return self.model.gen(z=z.to(self.dtype), ema=True, no_jitter=True, noise=noise,
                              truncate=truncation)


def load_official_generator(
    repo_path: str | Path,
    hparams: Mapping,
    state_dict: Mapping[str, torch.Tensor],
    dtype: torch.dtype = torch.float32,
) -> OfficialGenerator:
    """Build the official BlobGAN from a checkout and load EMA weights into it.

    Args:
        repo_path: root of an official BlobGAN checkout (the folder that contains `src/`).
        hparams: the checkpoint's `hyper_parameters` as plain dicts, in the official field names
            (`generator`, `layout_net`, `discriminator` sub-dicts, `n_features_max`, `ab_norm`, ...).
        state_dict: weights with official keys (`generator_ema.*`, `layout_net_ema.*`; other keys
            of a full checkpoint are ignored) or with this project's keys (`generator.*`,
            `layout_net.*`), which are mapped to the EMA modules.
        dtype: dtype to run in.
    Returns:
        An `OfficialGenerator` whose `render` calls the official code.
    """
    if not official_available(repo_path):
        raise ValueError(
            f"repo_path {str(repo_path)!r} is not a usable official BlobGAN checkout: it must contain "
            f"{', '.join(_REQUIRED_FILES)}, and einops must be installed")
    ema_weights = _ema_state_dict(state_dict)
    with _official_import_context(Path(repo_path) / "src"):
        blobgan_cls = importlib.import_module("models").BlobGAN
        # The official modules are built from these configs at construction time (see
        # `import_external`), so construction stays inside the import context too.
        model = blobgan_cls(**_constructor_kwargs(blobgan_cls, hparams))
    missing, _ = model.load_state_dict(ema_weights, strict=False)
    # The noise buffers are unused at inference and the FIR kernels are constants, so a state_dict
    # without them is fine; every learnt EMA tensor must be present.
    missing_learnt = [k for k in missing if k.startswith(tuple(_EMA_PREFIXES.values()))
                      and ".noises." not in k and not k.endswith(".kernel")]
    if missing_learnt:
        raise ValueError(f"state_dict lacks official EMA weights: {missing_learnt[:8]}")
    # Training-only copies: the official code falls back to the EMA modules when these are absent.
    del model.generator, model.layout_net, model.discriminator
    return OfficialGenerator(model.to(dtype).eval(), dtype)


def _ema_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the EMA weights, renaming this project's `generator.*`/`layout_net.*` keys if needed."""
    ema_prefixes = tuple(_EMA_PREFIXES.values())
    official = {k: v for k, v in state_dict.items() if k.startswith(ema_prefixes)}
    if official:
        return official
    renamed = {}
    for key, value in state_dict.items():
        for ours, theirs in _EMA_PREFIXES.items():
            if key.startswith(ours):
                renamed[theirs + key[len(ours):]] = value
    if not renamed:
        raise ValueError("state_dict has neither generator_ema.*/layout_net_ema.* "
                         "nor generator.*/layout_net.* keys")
    return renamed


def _constructor_kwargs(blobgan_cls: type, hparams: Mapping) -> dict:
    """Keep only the BlobGAN dataclass fields, as Lightning's load_from_checkpoint does."""
    names = {f.name for f in dataclasses.fields(blobgan_cls)}
    kwargs = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in hparams.items() if k in names}
    for required in ("generator", "layout_net", "discriminator"):
        if required not in kwargs:
            raise ValueError(f"hparams lacks the {required!r} sub-config")
    # The loss weights are irrelevant at inference but the constructor unpacks them.
    kwargs.setdefault("λ", {})
    if kwargs["λ"] is None:
        kwargs["λ"] = {}
    return kwargs


# --------------------------------------------------------------------------------------------
# Import machinery
# --------------------------------------------------------------------------------------------
class _Placeholder:
    """Stands for any class or function of a placeholder module.

    It can be subclassed, instantiated, called and used as a decorator (a bare decorator returns
    the decorated function unchanged, so decorated methods of official classes keep working).
    """

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and isinstance(args[0], types.FunctionType):
            return args[0]
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Placeholder()

    def __getattr__(self, name):
        return _Placeholder()


class _InferenceLightningModule(nn.Module):
    """The part of `LightningModule` the official BlobGAN needs outside of training."""

    def save_hyperparameters(self, *args, **kwargs):
        pass

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


@functools.total_ordering
class _LooseVersion:
    """Numeric-only version comparison, enough for the official `torch.__version__` checks."""

    def __init__(self, text: str):
        self.parts = tuple(int(p) for p in re.findall(r"\d+", str(text).split("+")[0]))

    def __eq__(self, other):
        return self.parts == other.parts

    def __lt__(self, other):
        return self.parts < other.parts


class _PlaceholderLoader(importlib.abc.Loader):
    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []  # a package, so `import a.b.c` resolves here too
        module.__all__ = []  # `from placeholder import *` imports nothing

        def module_getattr(name):
            if name.startswith("__"):
                raise AttributeError(name)
            return type(name, (_Placeholder,), {"__module__": spec.name})

        module.__getattr__ = module_getattr
        if spec.name in ("pytorch_lightning", "lightning"):
            module.LightningModule = _InferenceLightningModule
        if spec.name == "distutils.version":
            module.LooseVersion = _LooseVersion
        return module

    def exec_module(self, module):
        pass


class _PlaceholderFinder(importlib.abc.MetaPathFinder):
    def __init__(self, top_level_names: frozenset):
        self.top_level_names = top_level_names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.top_level_names:
            return importlib.machinery.ModuleSpec(fullname, _PlaceholderLoader(), is_package=True)
        return None


def _is_official_or_clashing(name: str) -> bool:
    return name.split(".")[0] in _OFFICIAL_PACKAGES


@contextlib.contextmanager
def _official_import_context(src_dir: Path) -> Iterator[None]:
    """Make `import models` load the official package from `src_dir`, then undo every trace."""
    import torch.utils.cpp_extension as cpp_extension

    placeholder_names = set(_PLACEHOLDER_PACKAGES)
    if importlib.util.find_spec("distutils") is None:
        placeholder_names.add("distutils")
    finder = _PlaceholderFinder(frozenset(placeholder_names))
    modules_before = set(sys.modules)
    host_modules = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_official_or_clashing(k)}
    real_load = cpp_extension.load
    sys.meta_path.insert(0, finder)
    sys.path.insert(0, str(src_dir))
    cpp_extension.load = lambda *args, **kwargs: None
    try:
        yield
    finally:
        cpp_extension.load = real_load
        sys.path.remove(str(src_dir))
        sys.meta_path.remove(finder)
        # Forget the official modules and the placeholders (the built model keeps references to
        # what it uses); real third-party modules imported on the way stay, as re-importing a
        # C extension is unsafe.
        for name in set(sys.modules) - modules_before:
            loader = getattr(getattr(sys.modules[name], "__spec__", None), "loader", None)
            if _is_official_or_clashing(name) or isinstance(loader, _PlaceholderLoader):
                del sys.modules[name]
        sys.modules.update(host_modules)
