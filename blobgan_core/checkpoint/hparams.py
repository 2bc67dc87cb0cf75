"""The classes official BlobGAN checkpoints pickle besides tensors, as inert stand-ins, and ``plain()``,
which turns what they hold into plain Python values.

An official ``.ckpt`` is a PyTorch-Lightning checkpoint of a Hydra-configured model. Its
``hyper_parameters`` hold omegaconf ``DictConfig`` sub-trees (value nodes ``AnyNode``, metadata objects
naming ``typing.Any``, ``dict``, ``list``, ``int`` and a ``collections.defaultdict`` resolver cache), each
with its ``_parent`` chain up to the root config and ``${...}`` interpolations; Lightning may wrap them
in its ``AttributeDict``, and keys ``callbacks`` by a callback class (``ModelCheckpoint`` or the
official repository's subclass ``utils.io.Checkpoint``). The official inverter checkpoints
(``<stem>_invert.ckpt``) come from the same training code: their hyper_parameters are DictConfigs too.

Users have neither omegaconf nor pytorch_lightning installed, and importing them to read a file would
run their code. Each class gets a stand-in under its original name instead, registered with torch's
weights-only loader for one load (``OFFICIAL_CHECKPOINT_GLOBALS``). A stand-in only stores the state
the pickle hands it; any class not listed here makes the loader refuse the file.
"""

from __future__ import annotations

import pickle
import re
from typing import Any

import torch

__all__ = ["OFFICIAL_CHECKPOINT_GLOBALS", "StandIn", "plain"]


class StandIn:
    """An object of a class the checkpoint names but the reader never imports: it keeps the state the
    pickle gives it as attributes and runs nothing else."""

    def __init__(self, *args, **kwargs):  # a pickle may "call" the class (REDUCE): nothing to run
        pass

    def __setstate__(self, state):
        # BUILD. Without this method torch's unpickler would setattr() the slot part of the state; here
        # state only ever lands in __dict__, and never under a dunder name, which could shadow a method
        # (an instance "__setstate__" would be what the next BUILD calls).
        if isinstance(state, tuple) and len(state) == 2:
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"{_class_path(type(self))} state must be a dict, got "
                                         f"{type(state).__name__}")
        dunders = [k for k in state if isinstance(k, str) and k.startswith("__")]
        if dunders:
            raise pickle.UnpicklingError(f"{_class_path(type(self))} state sets {dunders[0]!r}")
        self.__dict__.update(state)

    def __repr__(self):
        return f"<stand-in {_class_path(type(self))}>"


class _PlainDict:
    """Base for dict subclasses whose behaviour nothing here needs: making one gives a plain dict, which
    torch's unpickler lets the file fill (it fills no dict subclass but OrderedDict and Counter)."""

    def __new__(cls, *args, **kwargs):
        return {}


def _stand_in(module: str, name: str, base: type = StandIn) -> type:
    return type(name, (base,), {"__module__": module, "__qualname__": name,
                                "__doc__": f"Inert stand-in for {module}.{name}."})


DictConfig = _stand_in("omegaconf.dictconfig", "DictConfig")
ListConfig = _stand_in("omegaconf.listconfig", "ListConfig")
AnyNode = _stand_in("omegaconf.nodes", "AnyNode")
Metadata = _stand_in("omegaconf.base", "Metadata")
ContainerMetadata = _stand_in("omegaconf.base", "ContainerMetadata")
TypingAny = _stand_in("typing", "Any")  # metadata ref_type/key_type; only ever named, never used
ResolverCache = _stand_in("collections", "defaultdict", _PlainDict)  # defaultdict(dict): a plain dict
AttributeDict = _stand_in("pytorch_lightning.utilities.parsing", "AttributeDict", _PlainDict)
ModelCheckpoint = _stand_in("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint")
Checkpoint = _stand_in("utils.io", "Checkpoint")

# dict, list and int appear as omegaconf metadata types (object_type, key_type); calling them is harmless.
OFFICIAL_CHECKPOINT_GLOBALS: tuple[type, ...] = (
    DictConfig, ListConfig, AnyNode, Metadata, ContainerMetadata, TypingAny, ResolverCache, AttributeDict,
    ModelCheckpoint, Checkpoint, dict, list, int)


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --------------------------------------------------------------------------------------------------
# plain(): stand-ins -> plain Python data, omegaconf interpolations resolved
# --------------------------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{([^${}]*)\}")
_MAX_INTERPOLATION_DEPTH = 32
_MISSING = object()


def _field(node, name: str):
    return vars(node).get(name)


def _is_container(obj) -> bool:
    return isinstance(obj, (DictConfig, ListConfig))


class _Plainer:
    def __init__(self):
        self.active: set[int] = set()

    def convert(self, obj, depth: int = 0):
        if isinstance(obj, (str, bytes, int, float, complex, type(None), torch.Tensor, torch.dtype,
                            torch.Size)):
            return obj
        if isinstance(obj, type):
            return _class_path(obj)
        if id(obj) in self.active:
            return "<cycle>"
        self.active.add(id(obj))
        try:
            return self._convert(obj, depth)
        finally:
            self.active.discard(id(obj))

    def _convert(self, obj, depth):
        if isinstance(obj, dict):
            return {self._key(k): self.convert(v, depth) for k, v in obj.items()}
        if isinstance(obj, (list, set, frozenset)):
            return [self.convert(v, depth) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.convert(v, depth) for v in obj)
        if isinstance(obj, AnyNode):
            return self.resolve(_field(obj, "_val"), _field(obj, "_parent"), depth)
        if _is_container(obj):
            return self.container(obj, depth)
        if isinstance(obj, StandIn):
            out: dict[Any, Any] = {"__class__": _class_path(type(obj))}
            for k, v in vars(obj).items():
                out.setdefault(self._key(k), self.convert(v, depth))
            return out
        return obj

    def _key(self, key):
        converted = self.convert(key)
        try:
            hash(converted)
        except TypeError:
            return repr(key)
        return converted

    def container(self, node, depth):
        content = _field(node, "_content")
        if isinstance(content, str):  # the whole container is an interpolation, or '???'
            return self.resolve(content, _field(node, "_parent"), depth)
        if isinstance(content, dict):
            return {self._key(k): self.convert(v, depth) for k, v in content.items()}
        return self.convert(content, depth)  # a list, or None for a None-valued config

    def resolve(self, value, parent, depth):
        """Resolve ``${a.b}`` (absolute) and ``${.x}``/``${..x}`` (relative) interpolations against the
        pickled config tree. Resolver calls (``${oc.env:...}``) and dangling references stay strings."""
        if not isinstance(value, str) or "${" not in value:
            return self.convert(value, depth)
        if depth > _MAX_INTERPOLATION_DEPTH:
            return value
        whole = _INTERPOLATION.fullmatch(value)
        if whole:
            target = self.lookup(whole.group(1), parent)
            return value if target is _MISSING else self.convert_target(target, depth + 1)

        def substitute(match):
            target = self.lookup(match.group(1), parent)
            return match.group(0) if target is _MISSING else str(self.convert_target(target, depth + 1))

        return _INTERPOLATION.sub(substitute, value)

    def convert_target(self, target, depth):
        if not (_is_container(target) or isinstance(target, AnyNode)):
            return self.convert(target, depth)
        if id(target) in self.active:
            return "<cycle>"
        self.active.add(id(target))
        try:
            return self._convert(target, depth)
        finally:
            self.active.discard(id(target))

    @staticmethod
    def lookup(expression: str, parent):
        expression = expression.strip()
        if not expression or ":" in expression or not _is_container(parent):
            return _MISSING
        if expression.startswith("."):
            dots = len(expression) - len(expression.lstrip("."))
            base, rest = parent, expression[dots:]
            for _ in range(dots - 1):
                base = _field(base, "_parent")
                if not _is_container(base):
                    return _MISSING
        else:
            base, rest = parent, expression
            for _ in range(1000):  # up to the root config
                up = _field(base, "_parent")
                if not _is_container(up):
                    break
                base = up
        for part in rest.split(".") if rest else []:
            if not _is_container(base):
                return _MISSING
            content = _field(base, "_content")
            if isinstance(content, dict) and part in content:
                base = content[part]
            elif isinstance(content, list) and part.isdigit() and int(part) < len(content):
                base = content[int(part)]
            else:
                return _MISSING
        return base


def plain(obj) -> Any:
    """Turn a loaded object graph into plain Python data.

    omegaconf ``DictConfig``/``ListConfig`` stand-ins become dicts/lists with their value nodes
    unwrapped and ``${...}`` interpolations resolved against the pickled config tree (the root config
    travels along through ``_parent``); other stand-ins become ``{"__class__": "module.Name", <state>}``;
    classes become their ``"module.Name"`` string; tensors are returned as they are. Raises
    RecursionError for data nested deeper than Python's recursion limit.
    """
    return _Plainer().convert(obj)
