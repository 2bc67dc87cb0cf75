"""Read torch checkpoint files without running any code stored in them.

``torch.save`` writes a pickle, and a pickle can name any importable callable and have the reader call
it (``os.system``, ``eval``, ``subprocess.Popen``, ...). Official BlobGAN checkpoints also hold objects
from ``omegaconf``, ``pytorch_lightning`` and the training repository, which users do not have installed.
This module rebuilds such files with a restricted unpickler:

- **Real objects** come only from a short allowlist: plain containers and scalars from ``builtins``,
  ``collections.OrderedDict``, ``torch.Size``, torch dtypes, the torch storage type names, and our own
  re-implementations of torch's tensor rebuild functions (they never call into torch's).
- **Names that can run code** (``os``, ``posix``, ``subprocess``, ``sys``, ``builtins.eval``/``exec``/
  ``getattr``/``__import__``, ``importlib``, ``pickle``, ``ctypes``, ...) are refused as soon as the
  pickle mentions them, with :class:`UnsafeCheckpointError`.
- **Every other class** becomes an inert :class:`Placeholder` subclass. "Calling" it (REDUCE, NEWOBJ,
  ``copyreg._reconstructor``) only records the arguments; BUILD, SETITEMS and APPENDS only record state.
  Nothing is imported, so even a name the denylist misses cannot execute: the allowlist is what keeps
  loading safe, the denylist makes attacks fail loudly instead of silently.

Storages are not read: the file is memory-mapped and each tensor is a view into the mapping, so only
the pages of tensors that are actually used are ever read. ``keep(path)`` drops unwanted tensors
(``path`` joins container keys with ``/``, e.g. ``"state_dict/generator_ema.conv1.conv.weight"``); they
come back as :class:`SkippedTensor` (dtype and shape only).

Both torch formats are read: the zip format (torch >= 1.6, ``archive/data.pkl`` + ``archive/data/<key>``)
and the legacy sequential format (``_use_new_zipfile_serialization=False``).
"""

from __future__ import annotations

import _compat_pickle
import io
import mmap
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CheckpointFormatError",
    "Placeholder",
    "SkippedTensor",
    "UnsafeCheckpointError",
    "load_torch_file",
    "placeholder_class",
    "plain",
    "sniff_torch_format",
]


class UnsafeCheckpointError(Exception):
    """The file asks the reader to call something that could run code; it was not loaded."""


class CheckpointFormatError(ValueError):
    """The file is not a checkpoint this loader understands (or is corrupt)."""


# --------------------------------------------------------------------------------------------------
# Placeholders: inert stand-ins for classes we do not import
# --------------------------------------------------------------------------------------------------


class _PlaceholderMeta(type):
    @property
    def class_path(cls) -> str:
        """``module.QualName`` of the class this placeholder stands for."""
        return f"{cls.module}.{cls.qualname}" if cls.module else cls.qualname

    def __repr__(cls):
        if cls is Placeholder:
            return "<class Placeholder>"
        return f"<placeholder class {cls.class_path}>"


class Placeholder(metaclass=_PlaceholderMeta):
    """An instance of a class the loader did not import, kept as plain data.

    ``type(p).class_path`` is the original ``module.QualName``. ``args``/``kwargs`` hold what the pickle
    passed to the constructor (REDUCE / NEWOBJ / ``copyreg``), ``state`` what it passed to BUILD
    (usually the instance ``__dict__``), ``dictitems``/``listitems`` what SETITEMS/APPENDS added (for
    dict and list subclasses). Instances hash and compare by identity, so they work as dict keys.
    """

    module: str = ""
    qualname: str = ""

    def __new__(cls, *args, **kwargs):
        if cls is Placeholder:
            raise TypeError("Placeholder itself cannot be instantiated; use placeholder_class()")
        obj = object.__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        obj.state = None
        obj.dictitems = {}
        obj.listitems = []
        return obj

    def __init__(self, *args, **kwargs):  # the arguments were recorded by __new__
        pass

    # The unpickler's BUILD / SETITEMS / APPENDS / ADDITEMS hooks: record, never interpret.
    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.dictitems[key] = value

    def append(self, value):
        self.listitems.append(value)

    def extend(self, values):
        self.listitems.extend(values)

    def add(self, value):
        self.listitems.append(value)

    def __getitem__(self, key):
        return self.dictitems[key]

    __iter__ = None  # not iterable: list(placeholder) must not fall back to __getitem__

    def __repr__(self):
        return f"<placeholder {type(self).class_path} instance>"

    @property
    def class_path(self) -> str:  # on the class itself, the metaclass property answers
        return type(self).class_path

_PLACEHOLDER_CLASSES: dict[tuple[str, str], type] = {}


def placeholder_class(module: str, qualname: str) -> type:
    """The (cached) placeholder class standing for ``module.qualname``; the same object every time,
    so placeholder classes used as dict keys can be looked up again."""
    key = (module, qualname)
    cls = _PLACEHOLDER_CLASSES.get(key)
    if cls is None:
        short = qualname.rsplit(".", 1)[-1] or "Placeholder"
        cls = _PlaceholderMeta(short, (Placeholder,), {"module": module, "qualname": qualname,
                                                        "__module__": __name__})
        cls = _PLACEHOLDER_CLASSES.setdefault(key, cls)
    return cls


def _is_placeholder_class(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, Placeholder) and obj is not Placeholder


@dataclass(frozen=True)
class SkippedTensor:
    """A tensor that ``keep`` rejected: its data was never read."""

    dtype: torch.dtype
    shape: tuple[int, ...]

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


# --------------------------------------------------------------------------------------------------
# Storages and tensors as lazy records (materialized after unpickling, as views of the mapped file)
# --------------------------------------------------------------------------------------------------

# torch's pickled storage type names -> element dtype.
_STORAGE_DTYPES = {
    "DoubleStorage": torch.float64, "FloatStorage": torch.float32, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128, "UntypedStorage": torch.uint8,
}


class _StorageKind:
    """What ``find_class('torch', 'FloatStorage')`` returns: a dtype tag, not torch's class."""

    def __init__(self, name: str, dtype: torch.dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"<storage type torch.{self.name}>"


class _LazyStorage:
    def __init__(self, key: str, dtype: torch.dtype, numel: int, view_of=None, view_offset: int = 0):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.view_of, self.view_offset = view_of, view_offset  # legacy format storage views


class _LazyTensor:
    def __init__(self, storage: _LazyStorage, offset: int, size: tuple, stride: tuple, dtype):
        self.storage, self.offset, self.size, self.stride, self.dtype = storage, offset, size, stride, dtype


def _int_tuple(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list, torch.Size)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise CheckpointFormatError(f"tensor {what} must be a tuple of non-negative ints, got {value!r}")
    return tuple(value)


def _lazy_tensor(storage, storage_offset, size, stride, dtype=None) -> _LazyTensor:
    if not isinstance(storage, _LazyStorage):
        raise UnsafeCheckpointError(
            f"a tensor rebuild was given {type(storage).__name__} instead of a storage from the file")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise CheckpointFormatError(f"tensor storage offset must be an int >= 0, got {storage_offset!r}")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise CheckpointFormatError(f"tensor size {size} and stride {stride} differ in length")
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise CheckpointFormatError(f"tensor dtype must be a torch dtype, got {dtype!r}")
    return _LazyTensor(storage, storage_offset, size, stride, dtype or storage.dtype)


# Our stand-ins for torch._utils' rebuild functions. Backward hooks and metadata are never attached
# (hooks are callables; a placeholder in their place would be inert anyway, but we do not keep them).
def _rebuild_tensor(storage, storage_offset, size, stride):
    return _lazy_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return _lazy_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    return _lazy_tensor(storage, storage_offset, size, stride, dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _LazyTensor):
        raise UnsafeCheckpointError(f"a parameter rebuild was given {type(data).__name__}, not a tensor")
    return data


_REBUILD_FUNCTIONS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter)
_TENSOR_TYPES = {"torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.Parameter",
                 "torch._tensor.Tensor"}


def _rebuild_from_type(func, new_type, args, state):
    """torch's wrapper for tensor subclasses; only plain tensors and parameters are accepted."""
    if func not in _REBUILD_FUNCTIONS:
        name = func.class_path if _is_placeholder_class(func) else repr(func)
        raise UnsafeCheckpointError(f"tensor rebuild through {name} refused: only torch's own tensor "
                                    "rebuild functions may be called")
    type_name = new_type.class_path if _is_placeholder_class(new_type) else repr(new_type)
    if type_name not in _TENSOR_TYPES:
        raise UnsafeCheckpointError(f"tensor subclass {type_name} refused; allowed: {sorted(_TENSOR_TYPES)}")
    if not isinstance(args, tuple):
        raise CheckpointFormatError(f"tensor rebuild arguments must be a tuple, got {type(args).__name__}")
    return func(*args)


# --------------------------------------------------------------------------------------------------
# The restricted unpickler
# --------------------------------------------------------------------------------------------------


def _reconstructor(cls, base, state):
    """copyreg._reconstructor: the protocol 0/1 way to make an instance; never calls ``base``."""
    if _is_placeholder_class(cls):
        if base is dict and isinstance(state, dict):  # a dict subclass: its items
            obj = cls()
            obj.dictitems.update(state)
            return obj
        if base is list and isinstance(state, list):
            obj = cls()
            obj.listitems.extend(state)
            return obj
        return cls(state) if state is not None else cls()
    if cls in (dict, list, set, OrderedDict) and base in (object, cls):
        return cls(state) if state is not None else cls()
    if cls is object and base is object:
        return object()
    raise UnsafeCheckpointError(f"copyreg._reconstructor on {cls!r} refused: only placeholder classes and "
                                "plain containers may be reconstructed")


def _newobj(cls, *args):
    """copyreg.__newobj__ written out as REDUCE (the NEWOBJ opcode is handled by the classes)."""
    if _is_placeholder_class(cls):
        return cls.__new__(cls, *args)
    if cls in (dict, list, set, OrderedDict, object, tuple, frozenset):
        return cls.__new__(cls, *args)
    raise UnsafeCheckpointError(f"copyreg.__newobj__ on {cls!r} refused")


def _newobj_ex(cls, args, kwargs):
    if _is_placeholder_class(cls):
        return cls.__new__(cls, *args, **kwargs)
    raise UnsafeCheckpointError(f"copyreg.__newobj_ex__ on {cls!r} refused")


def _defaultdict(default_factory=None, *args):
    """collections.defaultdict (omegaconf's resolver cache): a plain dict, factory dropped."""
    return dict(*args)


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    """How protocol-2 pickles write ``bytes``: _codecs.encode(str, 'latin1')."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise CheckpointFormatError(f"_codecs.encode({type(text).__name__}, {encoding!r}) not supported")
    return text.encode(encoding)


def _bytearray(source=b"", encoding=None, errors="strict"):
    """bytearray from text, bytes or a list of ints only: ``bytearray(10**12)`` would allocate a
    terabyte."""
    if isinstance(source, str):
        return bytearray(_codecs_encode(source, encoding or "utf-8"))
    if isinstance(source, (bytes, bytearray, list)):
        return bytearray(source)
    raise CheckpointFormatError(f"bytearray({type(source).__name__}) not supported")


def _bytes(source=b"", encoding=None, errors="strict"):
    return bytes(_bytearray(source, encoding, errors))


_DTYPE_NAMES = ("float64", "double", "float32", "float", "float16", "half", "bfloat16", "int64", "long",
                "int32", "int", "int16", "short", "int8", "uint8", "bool", "complex64", "complex128")

_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    # plain values and containers: constructors without side effects that cannot be made to allocate
    # from a number (bytes/bytearray go through checked wrappers; range becomes a placeholder)
    ("builtins", "dict"): dict, ("builtins", "list"): list, ("builtins", "tuple"): tuple,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset, ("builtins", "int"): int,
    ("builtins", "float"): float, ("builtins", "complex"): complex, ("builtins", "bool"): bool,
    ("builtins", "str"): str, ("builtins", "slice"): slice, ("builtins", "object"): object,
    ("builtins", "range"): placeholder_class("builtins", "range"),
    ("builtins", "bytes"): _bytes, ("builtins", "bytearray"): _bytearray,
    ("builtins", "Ellipsis"): Ellipsis,
    ("builtins", "NotImplemented"): NotImplemented,
    ("_codecs", "encode"): _codecs_encode,
    ("collections", "OrderedDict"): OrderedDict,
    ("collections", "defaultdict"): _defaultdict,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("copyreg", "__newobj__"): _newobj,
    ("copyreg", "__newobj_ex__"): _newobj_ex,
    ("torch", "Size"): torch.Size,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type"): _rebuild_from_type,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    **{("torch", n): getattr(torch, n) for n in _DTYPE_NAMES},
    **{("torch", n): _StorageKind(n, d) for n, d in _STORAGE_DTYPES.items()},
    ("torch.storage", "UntypedStorage"): _StorageKind("UntypedStorage", torch.uint8),
}

# Whole modules whose members can run code, touch files or processes, or reach other modules.
_DENIED_MODULES = {
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "_winapi", "sys",
    "builtins", "importlib", "imp", "runpy", "ctypes", "_ctypes", "socket", "_socket", "shutil", "pty",
    "code", "codeop", "pickle", "_pickle", "cPickle", "marshal", "types", "webbrowser", "multiprocessing",
    "threading", "_thread", "signal", "asyncio", "io", "_io", "tempfile", "platform", "pydoc", "pdb",
    "bdb", "timeit", "trace", "cProfile", "profile", "doctest", "unittest", "ensurepip", "venv", "pip",
    "setuptools", "distutils", "pkgutil", "zipimport", "gc", "inspect", "codecs", "_codecs",
    "linecache", "site", "sysconfig", "fcntl", "resource", "select", "selectors", "mmap", "http",
    "urllib", "ftplib", "smtplib", "telnetlib", "xmlrpc", "ssl", "sqlite3", "shelve", "dbm", "glob",
    "commands", "popen2", "msvcrt", "winreg", "cffi", "dill", "cloudpickle", "joblib",
    "numpy.testing", "numpy.distutils", "numpy.f2py", "torch.hub", "torch.jit", "torch.serialization",
    "torch.package", "torch._C", "torch.ops", "torch._ops", "torch.utils.cpp_extension",
    "torch._dynamo", "torch.multiprocessing", "torch.distributed", "torch.compiler",
}
_DENIED_NAMES = {("operator", n) for n in ("attrgetter", "methodcaller", "call", "itemgetter")} | {
    ("torch", n) for n in ("load", "save", "compile", "from_file", "classes", "ops")} | {
    ("functools", "reduce")}

# ``module.name`` of the form pickle writes; checked after the Python 2 name mapping.
_VALID_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_<>]*(\.[A-Za-z_][A-Za-z0-9_<>]*)*$")


def _fix_py2_name(module: str, name: str) -> tuple[str, str]:
    """Apply pickle's Python 2 -> 3 renames (``__builtin__`` -> ``builtins``, ``copy_reg`` -> ...)
    before any check, so a Python 2 spelling cannot slip past the denylist."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def _is_denied(module: str, name: str) -> bool:
    if (module, name) in _DENIED_NAMES:
        return True
    parts = module.split(".")
    if any(".".join(parts[:i]) in _DENIED_MODULES for i in range(1, len(parts) + 1)):
        return True
    # dunder attributes walk from a harmless object to dangerous ones (__globals__, __subclasses__)
    return any(p.startswith("__") and p.endswith("__") for p in name.split("."))


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, origin: str, storage_lookup: Callable[[tuple], Any] | None):
        super().__init__(file)
        self._origin = origin
        self._storage_lookup = storage_lookup

    def find_class(self, module, name):
        if not isinstance(module, str) or not isinstance(name, str):
            raise UnsafeCheckpointError(f"{self._origin}: malformed global reference {module!r}.{name!r}")
        module, name = _fix_py2_name(module, name)
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if not _VALID_MODULE.match(module) or not _VALID_NAME.match(name) or _is_denied(module, name):
            raise UnsafeCheckpointError(
                f"{self._origin} refers to {module}.{name}, which could run code or touch files and "
                f"processes; refusing to load it "
                "(this loader never executes anything stored in a checkpoint; the file may be malicious "
                "or damaged)")
        return placeholder_class(module, name)

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and pid and pid[0] == "storage" and self._storage_lookup is not None:
            return self._storage_lookup(pid)
        if isinstance(pid, tuple) and len(pid) == 4 and pid[0] == "module":
            return pid[1]  # legacy format: a module class saved with its source, already a placeholder
        raise CheckpointFormatError(f"{self._origin}: unexpected persistent id {pid!r:.100}")


def _unpickle(file, origin: str, storage_lookup=None):
    try:
        return _RestrictedUnpickler(file, origin, storage_lookup).load()
    except (UnsafeCheckpointError, CheckpointFormatError):
        raise
    except RecursionError as e:
        raise CheckpointFormatError(f"{origin}: the pickle is nested too deeply") from e
    except Exception as e:  # any other failure: corrupt or hostile pickle
        raise CheckpointFormatError(f"{origin}: cannot read the pickled data ({type(e).__name__}: {e})") from e


# --------------------------------------------------------------------------------------------------
# File formats
# --------------------------------------------------------------------------------------------------


def sniff_torch_format(path: str | Path) -> str | None:
    """``"zip"`` (torch >= 1.6), ``"legacy"`` (older sequential pickles) or None."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "legacy"
    return None


class _StorageTable:
    """Turns the pickle's storage references into lazy records, one per key."""

    def __init__(self, origin: str):
        self.origin = origin
        self.storages: dict[str, _LazyStorage] = {}

    def lookup(self, pid: tuple):
        if len(pid) not in (5, 6):
            raise CheckpointFormatError(f"{self.origin}: malformed storage reference {pid!r:.100}")
        kind, key, _location, numel = pid[1:5]
        if not isinstance(kind, _StorageKind):
            raise UnsafeCheckpointError(f"{self.origin}: storage type {kind!r} is not a torch storage type")
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise CheckpointFormatError(f"{self.origin}: malformed storage reference {pid!r:.100}")
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _LazyStorage(key, kind.dtype, numel)
        elif storage.dtype != kind.dtype:
            raise CheckpointFormatError(f"{self.origin}: storage {key} is used with two dtypes")
        view = pid[5] if len(pid) == 6 else None
        if view is not None:  # legacy storage view: (view_key, offset, size) in elements of the root
            view_key, offset, size = view
            return self.storages.setdefault(
                view_key, _LazyStorage(view_key, kind.dtype, size, view_of=storage, view_offset=offset))
        return storage


def map_file_with_python_mmap(path: Path) -> torch.Tensor:
    """The file as a uint8 tensor over a copy-on-write ``mmap`` (pages are read when touched; writes
    stay in memory). The tensor keeps the mapping alive."""
    with open(path, "rb") as f:
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    return torch.frombuffer(mapping, dtype=torch.uint8)


class _MappedFile:
    """The whole file mapped copy-on-write, mapped on first use; pages are read only when touched."""

    def __init__(self, path: Path):
        self.path = path
        self._bytes: torch.Tensor | None = None

    def bytes(self) -> torch.Tensor:
        if self._bytes is None:
            try:
                size = self.path.stat().st_size
                storage = torch.UntypedStorage.from_file(str(self.path), shared=False, nbytes=size)
                self._bytes = torch.empty(0, dtype=torch.uint8).set_(storage)
            except (RuntimeError, OSError):  # a platform where torch cannot map privately
                self._bytes = map_file_with_python_mmap(self.path)
        return self._bytes

    def typed(self, byte_offset: int, numel: int, dtype: torch.dtype) -> torch.Tensor:
        itemsize = torch.empty(0, dtype=dtype).element_size()
        raw = self.bytes()
        if byte_offset < 0 or byte_offset + numel * itemsize > raw.numel():
            raise CheckpointFormatError(f"{self.path}: a storage runs past the end of the file")
        chunk = raw[byte_offset: byte_offset + numel * itemsize]
        if byte_offset % itemsize:  # misaligned record (not written by torch): copy instead of viewing
            chunk = chunk.clone()
        return chunk.view(dtype)


class _ZipCheckpoint:
    def __init__(self, path: Path):
        self.path = path
        self.origin = str(path)
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise CheckpointFormatError(f"{path}: not a readable zip archive ({e})") from e
        with zf:
            infos = zf.infolist()
            pkl = [i for i in infos if i.filename == "data.pkl" or i.filename.endswith("/data.pkl")]
            pkl = [i for i in pkl if i.filename.count("/") <= 1]
            if len(pkl) != 1:
                names = [i.filename for i in infos[:8]]
                raise CheckpointFormatError(
                    f"{path} is a zip archive but not a torch checkpoint (no '<archive>/data.pkl'; "
                    f"entries: {names})")
            prefix = pkl[0].filename[: -len("data.pkl")]
            byteorder = prefix + "byteorder"
            if byteorder in zf.namelist() and zf.read(byteorder).strip() not in (b"little", b""):
                raise CheckpointFormatError(f"{path}: big-endian checkpoints are not supported")
            self.pickle_bytes = zf.read(pkl[0])
            self.records = {i.filename[len(prefix) + len("data/"):]: i for i in infos
                            if i.filename.startswith(prefix + "data/")}
        self.mapped = _MappedFile(path)
        self.table = _StorageTable(self.origin)

    def load_root(self):
        return _unpickle(io.BytesIO(self.pickle_bytes), self.origin, self.table.lookup)

    def storage_data(self, storage: _LazyStorage) -> torch.Tensor:
        info = self.records.get(storage.key)
        if info is None:
            raise CheckpointFormatError(f"{self.path}: storage record data/{storage.key} is missing")
        itemsize = torch.empty(0, dtype=storage.dtype).element_size()
        if info.file_size < storage.numel * itemsize:
            raise CheckpointFormatError(f"{self.path}: storage record data/{storage.key} is truncated")
        if info.compress_type != zipfile.ZIP_STORED:  # re-zipped by hand: decompress this record only
            with zipfile.ZipFile(self.path) as zf:
                data = bytearray(zf.read(info))
            return torch.frombuffer(data, dtype=torch.uint8)[: storage.numel * itemsize].view(storage.dtype)
        with open(self.path, "rb") as f:
            f.seek(info.header_offset)
            header = f.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise CheckpointFormatError(f"{self.path}: bad local header for data/{storage.key}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        return self.mapped.typed(info.header_offset + 30 + name_len + extra_len, storage.numel, storage.dtype)


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class _LegacyCheckpoint:
    """torch < 1.6 layout: magic, protocol, sys_info, the object, the storage keys, then each storage
    as an int64 element count followed by its bytes, in key order."""

    def __init__(self, path: Path):
        self.path = path
        self.origin = str(path)
        self.mapped = _MappedFile(path)
        self.table = _StorageTable(self.origin)
        self.offsets: dict[str, int] = {}

    def load_root(self):
        with open(self.path, "rb") as f:
            magic = _unpickle(f, self.origin)
            if magic != _LEGACY_MAGIC:
                raise CheckpointFormatError(f"{self.path} is a pickle but not a torch checkpoint")
            if _unpickle(f, self.origin) != _LEGACY_PROTOCOL:
                raise CheckpointFormatError(f"{self.path}: unknown legacy torch protocol version")
            sys_info = _unpickle(f, self.origin)
            if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
                raise CheckpointFormatError(f"{self.path}: big-endian checkpoints are not supported")
            root = _unpickle(f, self.origin, self.table.lookup)
            keys = _unpickle(f, self.origin)
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise CheckpointFormatError(f"{self.path}: malformed storage key list")
            position = f.tell()
            size = self.path.stat().st_size
            for key in keys:
                storage = self.table.storages.get(key)
                if storage is None or storage.view_of is not None:
                    raise CheckpointFormatError(f"{self.path}: storage {key} listed but never used")
                f.seek(position)
                count = f.read(8)
                if len(count) != 8:
                    raise CheckpointFormatError(f"{self.path}: truncated at storage {key}")
                numel = struct.unpack("<q", count)[0]
                itemsize = torch.empty(0, dtype=storage.dtype).element_size()
                if numel < storage.numel or position + 8 + numel * itemsize > size:
                    raise CheckpointFormatError(f"{self.path}: storage {key} is truncated")
                self.offsets[key] = position + 8
                position += 8 + numel * itemsize
        return root

    def storage_data(self, storage: _LazyStorage) -> torch.Tensor:
        root = storage.view_of or storage
        if root.key not in self.offsets:
            raise CheckpointFormatError(f"{self.path}: no data for storage {root.key}")
        itemsize = torch.empty(0, dtype=root.dtype).element_size()
        start = self.offsets[root.key] + storage.view_offset * itemsize
        if storage.view_offset + storage.numel > root.numel:
            raise CheckpointFormatError(f"{self.path}: storage view {storage.key} exceeds its storage")
        return self.mapped.typed(start, storage.numel, root.dtype)


# --------------------------------------------------------------------------------------------------
# Materialization: lazy records -> tensor views (or SkippedTensor), walking the unpickled graph
# --------------------------------------------------------------------------------------------------


def _path_part(key) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float, bool)) or key is None:
        return str(key)
    if _is_placeholder_class(key):
        return key.class_path
    return type(key).__name__


class _Materializer:
    def __init__(self, source, keep: Callable[[str], bool] | None):
        self.source, self.keep = source, keep
        self.storage_cache: dict[int, torch.Tensor] = {}
        self.done: dict[int, Any] = {}

    def tensor(self, lazy: _LazyTensor, path: str):
        if self.keep is not None and not self.keep(path):
            return SkippedTensor(lazy.dtype, lazy.size)
        storage = lazy.storage
        flat = self.storage_cache.get(id(storage))
        if flat is None:
            flat = self.storage_cache[id(storage)] = self.source.storage_data(storage)
        if lazy.dtype != flat.dtype:  # _rebuild_tensor_v3 over an untyped (byte) storage
            if flat.dtype != torch.uint8:
                raise CheckpointFormatError(f"tensor {path!r}: dtype {lazy.dtype} over a {flat.dtype} storage")
            itemsize = torch.empty(0, dtype=lazy.dtype).element_size()
            flat = flat[: flat.numel() // itemsize * itemsize].view(lazy.dtype)
        if any(s == 0 for s in lazy.size):
            return torch.empty(lazy.size, dtype=flat.dtype)
        last = lazy.offset + sum((s - 1) * st for s, st in zip(lazy.size, lazy.stride, strict=True))
        if last >= flat.numel():
            raise CheckpointFormatError(
                f"tensor {path!r} (size {list(lazy.size)}, offset {lazy.offset}) reaches past its storage "
                f"of {flat.numel()} elements")
        return flat.as_strided(lazy.size, lazy.stride, flat.storage_offset() + lazy.offset)

    def walk(self, obj, path: str):
        if isinstance(obj, _LazyTensor):
            if id(obj) not in self.done:
                self.done[id(obj)] = self.tensor(obj, path)
            return self.done[id(obj)]
        if isinstance(obj, (str, bytes, int, float, type(None), torch.Tensor)):
            return obj
        if id(obj) in self.done:
            return self.done[id(obj)]

        def sub(key) -> str:
            return f"{path}/{_path_part(key)}" if path else _path_part(key)

        if isinstance(obj, dict):
            self.done[id(obj)] = obj
            for key in list(obj):
                obj[key] = self.walk(obj[key], sub(key))
            return obj
        if isinstance(obj, list):
            self.done[id(obj)] = obj
            for i, item in enumerate(obj):
                obj[i] = self.walk(item, sub(i))
            return obj
        if type(obj) is tuple:
            self.done[id(obj)] = obj  # a tuple cannot reach itself except through a mutable container
            new = tuple(self.walk(item, sub(i)) for i, item in enumerate(obj))
            self.done[id(obj)] = new
            return new
        if isinstance(obj, Placeholder):
            self.done[id(obj)] = obj
            obj.args = self.walk(obj.args, path)
            obj.kwargs = self.walk(obj.kwargs, path)
            obj.state = self.walk(obj.state, path)
            obj.dictitems = self.walk(obj.dictitems, path)
            obj.listitems = self.walk(obj.listitems, path)
            return obj
        return obj


def load_torch_file(path: str | Path, *, keep: Callable[[str], bool] | None = None) -> object:
    """Read a ``torch.save`` file (zip or legacy format) without executing anything stored in it.

    Tensors come back as views into a copy-on-write memory map of the file (writing to them never
    changes the file), so only the tensors that are used are read from disk. ``keep(path)`` is asked
    for each tensor, with ``path`` the ``/``-joined keys that lead to it (``""`` for a bare tensor);
    a rejected tensor becomes a :class:`SkippedTensor` holding its dtype and shape.

    Raises :class:`UnsafeCheckpointError` for references to code (``os.system``, ``eval``, ...) and
    :class:`CheckpointFormatError` for anything that is not a readable torch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    kind = sniff_torch_format(path)
    if kind == "zip":
        source = _ZipCheckpoint(path)
    elif kind == "legacy":
        source = _LegacyCheckpoint(path)
    else:
        raise CheckpointFormatError(
            f"{path} is not a torch checkpoint (neither torch's zip format nor its legacy pickle format)")
    root = source.load_root()
    try:
        return _Materializer(source, keep).walk(root, "")
    except RecursionError as e:
        raise CheckpointFormatError(f"{path}: the checkpoint is nested too deeply") from e


# --------------------------------------------------------------------------------------------------
# plain(): placeholders -> plain Python data (with omegaconf configs resolved)
# --------------------------------------------------------------------------------------------------

_OMEGA_DICT = "omegaconf.dictconfig.DictConfig"
_OMEGA_LIST = "omegaconf.listconfig.ListConfig"
_OMEGA_NODE_PREFIX = "omegaconf.nodes."
_INTERPOLATION = re.compile(r"\$\{([^${}]*)\}")
_MAX_INTERPOLATION_DEPTH = 32


def _state_dict_of(ph) -> dict:
    state = ph.state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
        state = state[0]  # (__dict__, slots) form
    return state if isinstance(state, dict) else {}


def _is_omega_container(obj) -> bool:
    return isinstance(obj, Placeholder) and obj.class_path in (_OMEGA_DICT, _OMEGA_LIST)


def _is_omega_node(obj) -> bool:
    return isinstance(obj, Placeholder) and obj.class_path.startswith(_OMEGA_NODE_PREFIX)


class _Plainer:
    def __init__(self):
        self.active: set[int] = set()

    def convert(self, obj, depth: int = 0):
        if isinstance(obj, (str, bytes, int, float, complex, type(None), torch.Tensor, SkippedTensor,
                            torch.dtype, torch.Size)):
            return obj
        if _is_placeholder_class(obj):
            return obj.class_path
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
        if isinstance(obj, list):
            return [self.convert(v, depth) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.convert(v, depth) for v in obj)
        if isinstance(obj, (set, frozenset)):
            return [self.convert(v, depth) for v in obj]
        if _is_omega_container(obj) or _is_omega_node(obj):
            return self.omega_value(obj, depth)
        if isinstance(obj, Placeholder):
            return self.generic(obj, depth)
        return obj

    def _key(self, key):
        converted = self.convert(key)
        try:
            hash(converted)
        except TypeError:
            return repr(key)
        return converted

    def generic(self, ph, depth):
        has_state = ph.state is not None
        if ph.dictitems and not (ph.args or ph.kwargs or has_state or ph.listitems):
            return {self._key(k): self.convert(v, depth) for k, v in ph.dictitems.items()}
        if ph.listitems and not (ph.args or ph.kwargs or has_state or ph.dictitems):
            return [self.convert(v, depth) for v in ph.listitems]
        out: dict[str, Any] = {"__class__": ph.class_path}
        if ph.args:
            out["__args__"] = [self.convert(a, depth) for a in ph.args]
        if ph.kwargs:
            out["__kwargs__"] = {k: self.convert(v, depth) for k, v in ph.kwargs.items()}
        if isinstance(ph.state, dict):
            for k, v in ph.state.items():
                out.setdefault(self._key(k), self.convert(v, depth))
        elif has_state:
            out["__state__"] = self.convert(ph.state, depth)
        if ph.dictitems:
            out["__items__"] = {self._key(k): self.convert(v, depth) for k, v in ph.dictitems.items()}
        if ph.listitems:
            out["__list__"] = [self.convert(v, depth) for v in ph.listitems]
        return out

    # -- omegaconf -------------------------------------------------------------------------------

    def omega_value(self, node, depth):
        state = _state_dict_of(node)
        if _is_omega_node(node):
            return self.resolve(state.get("_val"), state.get("_parent"), depth)
        content = state.get("_content")
        if isinstance(content, str):  # the whole container is an interpolation, or '???'
            return self.resolve(content, state.get("_parent"), depth)
        if node.class_path == _OMEGA_LIST:
            return [self.convert(v, depth) for v in (content or [])] if content is not None else None
        if content is None:
            return None
        if not isinstance(content, dict):
            return self.convert(content, depth)
        return {self._key(k): self.convert(v, depth) for k, v in content.items()}

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
        if _is_omega_container(target) or _is_omega_node(target):
            if id(target) in self.active:
                return "<cycle>"
            self.active.add(id(target))
            try:
                return self.omega_value(target, depth)
            finally:
                self.active.discard(id(target))
        return self.convert(target, depth)

    @staticmethod
    def lookup(expression: str, parent):
        expression = expression.strip()
        if not expression or ":" in expression or not _is_omega_container(parent):
            return _MISSING
        if expression.startswith("."):
            dots = len(expression) - len(expression.lstrip("."))
            base, rest = parent, expression[dots:]
            for _ in range(dots - 1):
                base = _state_dict_of(base).get("_parent")
                if not _is_omega_container(base):
                    return _MISSING
        else:
            base, rest = parent, expression
            for _ in range(1000):
                up = _state_dict_of(base).get("_parent")
                if not _is_omega_container(up):
                    break
                base = up
        for part in rest.split(".") if rest else []:
            if not _is_omega_container(base):
                return _MISSING
            content = _state_dict_of(base).get("_content")
            if isinstance(content, dict) and part in content:
                base = content[part]
            elif isinstance(content, list) and part.isdigit() and int(part) < len(content):
                base = content[int(part)]
            else:
                return _MISSING
        return base


_MISSING = object()


def plain(obj) -> Any:
    """Turn an unpickled object graph into plain Python data.

    omegaconf ``DictConfig``/``ListConfig`` placeholders become dicts/lists with their value nodes
    unwrapped and ``${...}`` interpolations resolved against the pickled config tree (the root config
    travels along through ``_parent``); dict/list-subclass placeholders become dicts/lists; any other
    placeholder becomes ``{"__class__": "module.Name", "__args__": [...], <its state>...}``;
    placeholder classes become their ``"module.Name"`` string. Tensors are returned as they are.
    """
    try:
        return _Plainer().convert(obj)
    except RecursionError as e:
        raise CheckpointFormatError("the checkpoint data is nested too deeply to convert") from e

