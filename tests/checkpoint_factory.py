"""Build files that look like official BlobGAN checkpoints, without omegaconf or pytorch_lightning.

The official ``.ckpt`` files are PyTorch-Lightning 1.5-era checkpoints whose ``hyper_parameters`` hold
omegaconf ``DictConfig`` sub-trees (with their ``_parent`` chain up to the root Hydra config and
``${...}`` interpolations) and whose ``callbacks`` dict is keyed by a callback class. To write such
pickles here, stand-in classes with the same module paths and the same pickled layout as omegaconf
2.1.2 (NEWOBJ + BUILD of ``__dict__`` minus ``_flags_cache``; observed with the real package) are
registered in ``sys.modules`` only while ``torch.save`` runs.

Also: random state dicts from ``expected_shapes`` (the model's own shapes), the official key layout
from ours, and malicious checkpoints that would run code if a normal unpickler read them.
"""

from __future__ import annotations

import collections
import contextlib
import copyreg
import io
import pickle
import subprocess
import sys
import types
import typing
import zipfile
from pathlib import Path

import torch

from blobgan_core.checkpoint import expected_shapes
from blobgan_core.checkpoint.official import fir_kernel
from blobgan_core.config import BlobGANConfig

# --------------------------------------------------------------------------------------------------
# State dicts
# --------------------------------------------------------------------------------------------------


def random_state_dict(config: BlobGANConfig, seed: int = 0, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Random tensors for every key of ``expected_shapes(config)`` (our naming)."""
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=gen, dtype=torch.float32).to(dtype)
            for k, s in expected_shapes(config).items()}


def official_noise_shapes(config: BlobGANConfig) -> list[tuple[int, int, int, int]]:
    """The shapes of the official ``noises.noise_i`` buffers: the official generator sizes them as if
    synthesis started at 4x4, i.e. wrong for size_in = 16."""
    n_layers = 1 + 2 * config.n_up
    return [(1, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2)) for i in range(n_layers)]


def official_state_dict_from_ours(sd: dict[str, torch.Tensor], config: BlobGANConfig,
                                  prefix_suffix: str = "_ema") -> collections.OrderedDict:
    """Our state dict in the official EMA layout: ``generator_ema.*`` / ``layout_net_ema.*`` plus the
    FIR kernel buffers and the misshapen ``noises.*`` buffers the official modules register."""
    out = collections.OrderedDict()
    for key, value in sd.items():
        head, rest = key.split(".", 1)
        out[f"{head}{prefix_suffix}.{rest}"] = value.clone()
    gen = f"generator{prefix_suffix}"
    for i, shape in enumerate(official_noise_shapes(config)):
        out[f"{gen}.noises.noise_{i}"] = torch.randn(shape)
    for j in range(config.n_up):
        out[f"{gen}.convs.{2 * j}.conv.blur.kernel"] = fir_kernel()
        out[f"{gen}.to_rgbs.{j}.upsample.kernel"] = fir_kernel()
    return out


# --------------------------------------------------------------------------------------------------
# Stand-ins for omegaconf 2.1.2 and pytorch_lightning classes (same module paths, same pickled state)
# --------------------------------------------------------------------------------------------------


class _OmegaNode:
    def __getstate__(self):  # omegaconf drops the flags cache when pickling
        state = dict(self.__dict__)
        state.pop("_flags_cache", None)
        return state


class Metadata:
    def __init__(self, key):
        self.ref_type = typing.Any
        self.object_type = None
        self.optional = True
        self.key = key
        self.flags = {}
        self.flags_root = False
        self.resolver_cache = collections.defaultdict(dict)


class ContainerMetadata(Metadata):
    def __init__(self, key, object_type=None):
        super().__init__(key)
        self.object_type = object_type
        self.key_type = typing.Any
        self.element_type = typing.Any


class AnyNode(_OmegaNode):
    def __init__(self, value, key, parent):
        self._metadata = Metadata(key)
        self._parent = parent
        self._flags_cache = None
        self._val = value


class DictConfig(_OmegaNode):
    def __init__(self, key=None, parent=None):
        self._metadata = ContainerMetadata(key)
        self._parent = parent
        self._flags_cache = None
        self._content = {}


class ListConfig(_OmegaNode):
    def __init__(self, key=None, parent=None):
        self._metadata = ContainerMetadata(key, object_type=list)
        self._parent = parent
        self._flags_cache = None
        self._content = []


class ModelCheckpoint:
    """pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"""


class Checkpoint(ModelCheckpoint):
    """utils.io.Checkpoint, the official repository's subclass (used as a ``callbacks`` key)."""


class AttributeDict(dict):
    """pytorch_lightning.utilities.parsing.AttributeDict"""


_FAKE_CLASSES = {
    "omegaconf.base": [Metadata, ContainerMetadata],
    "omegaconf.nodes": [AnyNode],
    "omegaconf.dictconfig": [DictConfig],
    "omegaconf.listconfig": [ListConfig],
    "pytorch_lightning.callbacks.model_checkpoint": [ModelCheckpoint],
    "pytorch_lightning.utilities.parsing": [AttributeDict],
    "utils.io": [Checkpoint],
}


@contextlib.contextmanager
def fake_training_modules():
    """Register the stand-in classes under the official module paths while pickling."""
    saved = {}
    names = set()
    for module in _FAKE_CLASSES:
        parts = module.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    try:
        for name in names:
            saved[name] = sys.modules.get(name)
            sys.modules[name] = types.ModuleType(name)
        for module, classes in _FAKE_CLASSES.items():
            for cls in classes:
                cls.__module__ = module
                setattr(sys.modules[module], cls.__qualname__, cls)
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def omega_tree(value, key=None, parent=None):
    """A DictConfig/ListConfig/AnyNode tree from plain data (strings like "${a.b}" stay interpolations)."""
    if isinstance(value, dict):
        node = DictConfig(key, parent)
        node._content = {k: omega_tree(v, k, node) for k, v in value.items()}
        return node
    if isinstance(value, list):
        node = ListConfig(key, parent)
        node._content = [omega_tree(v, i, node) for i, v in enumerate(value)]
        return node
    return AnyNode(value, key, parent)


def hydra_config(config: BlobGANConfig, *, jitter: bool = True, **overrides) -> dict:
    """The root Hydra config of a BlobGAN run (configs/experiment/blobgan.yaml + jitter.yaml), with
    interpolations as in the official YAML. ``overrides`` replace keys of ``model`` (use
    ``generator={...}`` etc. to replace a sub-dict's entries; a value of None deletes the entry)."""
    generator = {"name": "models.networks.layoutstylegan.LayoutStyleGANGenerator",
                 "style_dim": "${model.dim}", "n_mlp": 8, "size_in": config.size_in,
                 "c_model": config.c_model, "spatial_style": "${model.spatial_style}",
                 "size": "${model.resolution}"}
    if config.channel_multiplier != 2:
        generator["channel_multiplier"] = config.channel_multiplier
    if config.d_in != config.channels(config.size_in):
        generator["override_c_in"] = config.d_in
    layout_net = {"name": "models.networks.layoutnet.LayoutGenerator",
                  "n_features_max": "${model.n_features_max}", "feature_dim": config.d_in,
                  "style_dim": "${model.dim}", "noise_dim": "${model.noise_dim}", "norm_features": True,
                  "mlp_lr_mul": config.mlp_lr_mul, "mlp_hidden_dim": config.mlp_width,
                  "mlp_n_layers": config.mlp_depth, "spatial_style": "${model.spatial_style}"}
    model = {"name": "BlobGAN", "lr": 0.002, "dim": config.d_style, "noise_dim": config.noise_dim,
             "resolution": config.resolution,
             "lambda": {"D_real": 1, "D_fake": 1, "D_R1": 50, "G": 1, "G_path": 2},
             "discriminator": {"name": "StyleGANDiscriminator", "size": "${model.resolution}"},
             "generator": generator, "layout_net": layout_net, "D_reg_every": 16, "G_reg_every": -1,
             "λ": "${.lambda}", "log_images_every_n_steps": 1000,
             "n_features_min": "${model.n_features}", "n_features_max": "${model.n_features}",
             "n_features": config.n_blobs, "spatial_style": True, "ab_norm": config.ab_norm}
    if jitter:
        model.update(feature_jitter_xy=0.04, feature_jitter_shift=0.5, feature_jitter_angle=0.1)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(model.get(key), dict):
            model[key] = {**model[key], **value}
            model[key] = {k: v for k, v in model[key].items() if v is not None}
        elif value is None:
            model.pop(key, None)
        else:
            model[key] = value
    return {"seed": 0, "mode": "fit", "model": model,
            "dataset": {"category": "bedroom", "resolution": "${model.resolution}"},
            "trainer": {"precision": 32, "log_every_n_steps": 50}}


# The dataclass fields of the official BlobGAN module that Lightning's save_hyperparameters stores.
_BLOBGAN_FIELDS = ("generator", "layout_net", "discriminator", "dim", "noise_dim", "resolution",
                   "p_mixing_noise", "n_ema_sample", "freeze_G", "lr", "eps", "D_reg_every",
                   "G_reg_every", "path_len", "λ", "log_images_every_n_steps", "n_features_min",
                   "n_features_max", "feature_splat_temp", "spatial_style", "ab_norm",
                   "feature_jitter_xy", "feature_jitter_shift", "feature_jitter_angle")


def _resolve_scalar(root: dict, model: dict, value):
    """Lightning stores top-level fields as the values Hydra resolved (sub-configs stay DictConfigs)."""
    for _ in range(8):
        if not (isinstance(value, str) and value.startswith("${") and value.endswith("}")):
            return value
        ref = value[2:-1]
        table, parts = (model, ref[1:].split(".")) if ref.startswith(".") else (root, ref.split("."))
        for p in parts:
            table = table[p]
        value = table
    return value


def hyper_parameters(root_plain: dict, container: str = "dict"):
    """``checkpoint["hyper_parameters"]`` as Lightning writes it for the official dataclass module:
    sub-configs are DictConfig nodes whose ``_parent`` chain leads to the whole Hydra config."""
    root = omega_tree(root_plain)
    model_node = root._content["model"]
    model_plain = root_plain["model"]
    hp = AttributeDict() if container == "attributedict" else {}
    for field in _BLOBGAN_FIELDS:
        if field not in model_plain:
            continue
        raw = model_plain[field]
        if isinstance(raw, dict):
            hp[field] = model_node._content[field]
        elif field == "λ":
            hp[field] = model_node._content["lambda"]
        else:
            hp[field] = _resolve_scalar(root_plain, model_plain, raw)
    return hp


# --------------------------------------------------------------------------------------------------
# Official checkpoint files
# --------------------------------------------------------------------------------------------------


def _perturbed(sd: dict, old: str, new: str) -> dict:
    out = {}
    for k, v in sd.items():
        if k.startswith(old) and ".noises." not in k and not k.endswith("kernel"):
            out[new + k[len(old):]] = v + 0.5  # the training copy differs from the EMA copy
        elif k.startswith(old):
            out[new + k[len(old):]] = v.clone()
    return out


def fake_discriminator(numel: int = 64, seed: int = 1) -> dict[str, torch.Tensor]:
    """Discriminator tensors totalling about ``numel`` values (the real one is 28.9M at 256 px)."""
    gen = torch.Generator().manual_seed(seed)
    n_blocks = 4
    per = max(1, numel // n_blocks)
    return {f"discriminator.convs.{i}.0.weight": torch.randn(per, generator=gen) for i in range(n_blocks)}


def write_official_ckpt(path: str | Path, state_dict_official_keys: dict, config: BlobGANConfig, *,
                        jitter: bool = True, include_training_copies: bool = True,
                        include_discriminator: bool = True, include_optimizer: bool = False,
                        hyperparameters: bool = True, hparams_container: str = "dict",
                        hparam_overrides: dict | None = None, discriminator_numel: int = 64,
                        legacy_format: bool = False) -> Path:
    """Write a file laid out like a Lightning 1.5.10 BlobGAN checkpoint.

    ``state_dict_official_keys`` holds the EMA tensors in the official layout (see
    ``official_state_dict_from_ours``). The file also gets (as switched): the training copies
    ``generator.*``/``layout_net.*`` (EMA + 0.5, so a reader that picks them is caught), a small
    discriminator, ``hyper_parameters`` with DictConfig sub-trees, ``callbacks`` keyed by the
    ``utils.io.Checkpoint`` class, Adam ``optimizer_states``, ``lr_schedulers`` and ``loops``.
    """
    path = Path(path)
    sd = collections.OrderedDict(state_dict_official_keys)
    if include_training_copies:
        sd.update(_perturbed(state_dict_official_keys, "generator_ema.", "generator."))
        sd.update(_perturbed(state_dict_official_keys, "layout_net_ema.", "layout_net."))
    if include_discriminator:
        sd.update(fake_discriminator(discriminator_numel))
    sd._metadata = collections.OrderedDict({"": {"version": 1}})  # what nn.Module.state_dict attaches
    ckpt = {"epoch": 62, "global_step": 1_500_000, "pytorch-lightning_version": "1.5.10", "state_dict": sd,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 63}}}},
            "callbacks": {Checkpoint: {"monitor": None, "best_model_score": None,
                                       "best_model_path": "", "current_score": torch.tensor(0.25),
                                       "dirpath": "/checkpoints", "best_k_models": {},
                                       "last_model_path": "/checkpoints/epoch=62-step=1500000-last.ckpt"}},
            "lr_schedulers": []}
    if include_optimizer:
        trainable = [v for k, v in sd.items() if k.startswith(("generator.", "layout_net."))
                     and ".noises." not in k and not k.endswith("kernel")]
        disc = [v for k, v in sd.items() if k.startswith("discriminator.")]
        ckpt["optimizer_states"] = [
            {"state": {i: {"step": 1_500_000, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.ones_like(p)}
                       for i, p in enumerate(params)},
             "param_groups": [{"lr": 0.002, "betas": (0.0, 0.99), "eps": 1e-8, "weight_decay": 0,
                               "amsgrad": False, "params": list(range(len(params)))}]}
            for params in (trainable, disc)]
    else:
        ckpt["optimizer_states"] = []
    with fake_training_modules():
        if hyperparameters:
            root = hydra_config(config, jitter=jitter, **(hparam_overrides or {}))
            ckpt["hyper_parameters"] = hyper_parameters(root, hparams_container)
            ckpt["hparams_name"] = "kwargs"
        torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy_format)
    return path


def write_blobgan_checkpoint(path: str | Path, config: BlobGANConfig, seed: int = 0, **kwargs):
    """Random weights for ``config`` written as an official checkpoint; returns (path, our state dict)."""
    ours = random_state_dict(config, seed)
    write_official_ckpt(path, official_state_dict_from_ours(ours, config), config, **kwargs)
    return Path(path), ours


# --------------------------------------------------------------------------------------------------
# Malicious checkpoints
# --------------------------------------------------------------------------------------------------


class _Call:
    """Pickles as "call fn(*args)" (the REDUCE opcode); a normal unpickler would run it."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args

    def __call__(self, *args):  # lets a _Call stand in the callable position of another _Call
        raise AssertionError("never called while pickling")


def _python_command(marker: Path) -> list[str]:
    return [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('pwned')"]


MALICIOUS_KINDS = ("os_system", "builtins_eval", "builtins_exec", "subprocess_popen",
                   "copyreg_reconstructor", "getattr_import", "in_state_dict", "shutil_rmtree")


def malicious_payload(kind: str, marker: Path):
    """An object that, unpickled by a normal unpickler, creates ``marker`` (or worse)."""
    import builtins
    import os
    import shutil

    write_marker = f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')"
    shell = subprocess.list2cmdline(_python_command(marker))
    if kind == "os_system":
        return _Call(os.system, (shell,))
    if kind == "builtins_eval":
        return _Call(builtins.eval, (write_marker,))
    if kind == "builtins_exec":
        return _Call(builtins.exec, (write_marker,))
    if kind == "subprocess_popen":
        return _Call(subprocess.Popen, (_python_command(marker),))
    if kind == "copyreg_reconstructor":
        # _reconstructor(cls, base, state) runs base.__init__(obj, state): Popen.__init__ runs the command
        return _Call(copyreg._reconstructor, (subprocess.Popen, subprocess.Popen, _python_command(marker)))
    if kind == "getattr_import":
        system = _Call(builtins.getattr, (_Call(builtins.__import__, ("os",)), "system"))
        return _Call(system, (shell,))
    if kind == "in_state_dict":
        return _Call(os.system, (shell,))
    if kind == "shutil_rmtree":
        return _Call(shutil.rmtree, (str(marker.parent / "does-not-exist"),))
    raise ValueError(f"unknown malicious kind {kind!r}; allowed: {MALICIOUS_KINDS}")


def write_malicious_ckpt(path: str | Path, kind: str, marker: str | Path,
                         config: BlobGANConfig | None = None) -> Path:
    """A BlobGAN-looking checkpoint with a code-execution payload (see ``MALICIOUS_KINDS``) nested
    inside ``hyper_parameters`` (or inside ``state_dict`` for ``in_state_dict``). A normal unpickler
    (``torch.load(weights_only=False)``) would create ``marker``."""
    path, marker = Path(path), Path(marker)
    config = config or BlobGANConfig(resolution=32, size_in=16, c_model=4, n_blobs=3, d_in=8, d_style=8,
                                     mlp_width=16, mlp_depth=3)
    sd = collections.OrderedDict(official_state_dict_from_ours(random_state_dict(config), config))
    payload = malicious_payload(kind, marker)
    ckpt = {"epoch": 1, "global_step": 10, "pytorch-lightning_version": "1.5.10", "state_dict": sd,
            "hyper_parameters": {"generator": {"size_in": 16, "extra": [1, {"deep": payload}]}}}
    if kind == "in_state_dict":
        ckpt["hyper_parameters"] = {}
        sd["generator_ema.conv1.noise.weight"] = payload
    torch.save(ckpt, path)
    return path


def write_raw_pickle_ckpt(path: str | Path, data_pkl: bytes, records: dict[str, bytes] | None = None) -> Path:
    """Wrap hand-made pickle bytes (and storage records ``archive/data/<key>``) in torch's zip layout."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        for key, data in (records or {}).items():
            zf.writestr(f"archive/data/{key}", data)
        zf.writestr("archive/version", "3\n")
    return path


class StorageRef:
    """Pickles as torch's persistent storage reference ('storage', torch.<kind>, key, 'cpu', numel)."""

    def __init__(self, key: str, numel: int, kind: str = "FloatStorage"):
        self.key, self.numel, self.kind = key, numel, kind


class PersistentRef:
    """Pickles as the persistent id ``pid``, whatever it is (torch writes only storage references)."""

    def __init__(self, pid):
        self.pid = pid


def pickle_bytes(obj, protocol: int = 2) -> bytes:
    """Pickle ``obj``; ``StorageRef`` objects become torch storage references, ``PersistentRef`` objects
    persistent ids, ``call(fn, *args)`` objects REDUCE of ``fn``."""

    class _Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, StorageRef):
                return ("storage", getattr(torch, o.kind), o.key, "cpu", o.numel)
            if isinstance(o, PersistentRef):
                return o.pid
            return None

    buf = io.BytesIO()
    _Pickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def call(fn, *args) -> _Call:
    """Pickles as ``fn(*args)``."""
    return _Call(fn, args)
