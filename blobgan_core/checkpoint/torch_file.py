"""Read ``torch.save`` files without running code stored in them, with torch's own weights-only loader.

A pickle can name any importable callable and have the reader call it (``os.system``, ``eval``, ...).
``torch.load(weights_only=True)`` unpickles with torch's restricted unpickler instead: every global the
file names is looked up in an allowlist (tensors, storages, dtypes, torch's rebuild functions, a few
plain containers, and the inert stand-ins a caller passes in ``allow``), nothing is imported, and a
file that asks for anything else is refused before any of it runs. That unpickler is maintained and
attacked in the open; we only translate its errors into one-line messages that name the file.

Zip-format files (torch >= 1.6) are memory-mapped copy-on-write: tensors are views of the mapping, so
only the pages of the tensors that are used are ever read, and writing to a tensor never changes the
file. Legacy files (``_use_new_zipfile_serialization=False``) cannot be mapped; torch reads them whole
into memory.
"""

from __future__ import annotations

import _compat_pickle
import mmap
import pickle
import re
import threading
from collections.abc import Iterable
from pathlib import Path

import torch

__all__ = ["CheckpointFormatError", "UnsafeCheckpointError", "load_torch_file", "sniff_torch_format"]


class CheckpointFormatError(ValueError):
    """The file is not a checkpoint this loader understands (or is corrupt)."""


class UnsafeCheckpointError(ValueError):
    """The file asks the reader for something outside the allowlist (code, an unknown class); it was
    refused before anything in it ran."""


def sniff_torch_format(path: str | Path) -> str | None:
    """``"zip"`` (torch >= 1.6), ``"legacy"`` (older sequential pickles) or None."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "legacy"
    return None


# torch's safe_globals() adds to and removes from one process-wide set: two of our loads overlapping in
# different threads would remove each other's stand-ins halfway through.
_LOAD_LOCK = threading.Lock()

_REFUSED_GLOBAL = re.compile(r"GLOBAL (\S+) (?:was not an allowed global|whose module)")


def _copy_on_write_mapping() -> bool:
    """False if the process-wide mmap default was switched to MAP_SHARED: writing to a loaded tensor
    would then write into the user's file, so such a process reads the file into memory instead."""
    shared = getattr(mmap, "MAP_SHARED", None)  # absent on Windows, where torch always maps privately
    default = getattr(torch.serialization, "get_default_mmap_options", None)
    return shared is None or default is None or default() != shared


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _refusal(path: Path, error: pickle.UnpicklingError) -> str:
    text = str(error)
    match = _REFUSED_GLOBAL.search(text)
    if match:
        module, _, name = match.group(1).rpartition(".")
        module = module or "builtins"  # torch prints builtins.eval as "eval"
        # protocol-2 pickles spell some modules the Python 2 way (subprocess is "commands")
        module, name = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        name = f"{module}.{name}"
        what = f"refers to {name[:200]}, which is not on the loader's allowlist"
    else:
        # torch wraps its unpickler's one-line reason in advice to load with weights_only=False (never do
        # that with a file from elsewhere); the reason is the last line before the documentation link
        lines = [ln.strip() for ln in text.split("Check the documentation")[0].splitlines() if ln.strip()]
        reason = _one_line(lines[-1])[:300] if lines else "no reason given"
        what = f"asks for something the loader does not allow ({reason})"
    return (f"{path} {what}; refusing to load it (nothing stored in the file was run; the file may be "
            "malicious or damaged)")


def load_torch_file(path: str | Path, allow: Iterable[type] = ()) -> object:
    """Read a ``torch.save`` file (zip or legacy format) without executing anything stored in it.

    ``allow``: extra globals the file may name, each registered under its ``__module__.__qualname__``
    for this load only; pass inert stand-ins (see ``hparams.OFFICIAL_CHECKPOINT_GLOBALS``), never real
    classes whose ``__setstate__`` or constructor runs code. Tensors of a zip-format file are
    copy-on-write views of a memory map of the file; a legacy file is read into memory.

    Raises :class:`UnsafeCheckpointError` when the file names a global outside the allowlist or uses an
    operation the restricted unpickler refuses, :class:`CheckpointFormatError` for anything that is not
    a readable torch checkpoint, and FileNotFoundError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    kind = sniff_torch_format(path)
    if kind is None:
        raise CheckpointFormatError(
            f"{path} is not a torch checkpoint (neither torch's zip format nor its legacy pickle format)")
    try:
        with _LOAD_LOCK, torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=True,
                              mmap=kind == "zip" and _copy_on_write_mapping())
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(_refusal(path, e)) from None
    except Exception as e:  # corrupt or hand-made files fail anywhere in torch (zip reader, rebuild, ...)
        detail = _one_line(f"{type(e).__name__}: {e}")[:300].rstrip(": ")
        raise CheckpointFormatError(f"{path}: cannot read the checkpoint ({detail})") from e
