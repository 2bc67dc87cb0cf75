"""The checkpoint loader (torch's weights-only ``torch.load`` plus our stand-ins for the classes official
checkpoints name): tensors and containers come back exactly, omegaconf configs become plain values, and
every form of file that could run code, or that the old hand-written reader refused, is refused with a
one-line error naming the file, before anything in it runs."""

import base64
import collections
import struct
import sys
import types
import zlib

import pytest
import torch
from checkpoint_factory import (
    MALICIOUS_KINDS,
    PersistentRef,
    StorageRef,
    call,
    malicious_payload,
    official_state_dict_from_ours,
    pickle_bytes,
    random_state_dict,
    write_blobgan_checkpoint,
    write_malicious_ckpt,
    write_raw_pickle_ckpt,
)

from blobgan_core.checkpoint import (
    OFFICIAL_CHECKPOINT_GLOBALS,
    CheckpointFormatError,
    UnsafeCheckpointError,
    hparams,
    load_torch_file,
    plain,
    read_checkpoint,
    read_official_checkpoint,
)
from blobgan_core.config import BlobGANConfig

SMALL = BlobGANConfig(resolution=32, size_in=16, c_model=4, n_blobs=3, d_in=8, d_style=8, mlp_width=16,
                      mlp_depth=3)

# --------------------------------------------------------------------------------------------------
# Hand-written pickle opcodes (protocol 2), for forms a normal pickler never writes
# --------------------------------------------------------------------------------------------------


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


PROTO, STOP, EMPTY_TUPLE, EMPTY_DICT, EMPTY_LIST = b"\x80\x02", b".", b")", b"}", b"]"
NEWOBJ, REDUCE, BUILD, SETITEM, TUPLE1, TUPLE2 = b"\x81", b"R", b"b", b"s", b"\x85", b"\x86"

# --------------------------------------------------------------------------------------------------
# Plain data and tensors
# --------------------------------------------------------------------------------------------------


def _assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride()
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        assert a == b


def _sample_objects():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "float32": torch.randn(2, 3), "float16": torch.randn(5).half(), "bfloat16": torch.randn(5).bfloat16(),
        "int64": torch.arange(7), "bool": torch.tensor([True, False, True]), "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4), "strided_view": base[:, ::2], "transposed": base.t(),
        "offset_view": base[2:], "same_storage": base, "parameter": torch.nn.Parameter(torch.ones(2, 2)),
        "state_dict": collections.OrderedDict(w=torch.randn(3, 5), b=torch.zeros(3)),
        "nested": {"list": [1, 2.5, "x", None, True], "tuple": (1, (2, 3)), "set": {1, 2}, "bytes": b"\x00\xff",
                   "size": torch.Size([2, 3]), "dtype": torch.float16},
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_round_trip(tmp_path, legacy):
    path = tmp_path / "objects.pt"
    objects = _sample_objects()
    torch.save(objects, path, _use_new_zipfile_serialization=not legacy)
    got = load_torch_file(path)
    _assert_same(got, objects)
    assert got["strided_view"].untyped_storage().data_ptr() == got["same_storage"].untyped_storage().data_ptr()


def test_tensors_are_copy_on_write_views_of_the_file(tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"w": torch.ones(1000)}, path)
    before = path.read_bytes()
    got = load_torch_file(path)["w"]
    got.mul_(5)  # writing to a loaded tensor must never touch the file
    assert path.read_bytes() == before
    assert torch.equal(load_torch_file(path)["w"], torch.ones(1000))


def test_the_allowlist_is_only_extended_for_the_load(tmp_path):
    path, _ = write_blobgan_checkpoint(tmp_path / "m.ckpt", SMALL)
    load_torch_file(path, OFFICIAL_CHECKPOINT_GLOBALS)
    evil = write_malicious_ckpt(tmp_path / "evil.ckpt", "os_system", tmp_path / "pwned")
    with pytest.raises(UnsafeCheckpointError):
        load_torch_file(evil, OFFICIAL_CHECKPOINT_GLOBALS)
    registered = torch.serialization.get_safe_globals()
    assert not [g for g in OFFICIAL_CHECKPOINT_GLOBALS if g in registered]
    with pytest.raises(UnsafeCheckpointError, match="omegaconf|utils.io"):
        load_torch_file(path)


# --------------------------------------------------------------------------------------------------
# Stand-ins for the classes official checkpoints name
# --------------------------------------------------------------------------------------------------

# hyper_parameters pickled by the real omegaconf 2.1.2 (protocol 2), from this config:
#   root = OmegaConf.create({"seed": 0, "model": {"dim": 8, "resolution": 32, "lambda": {"G": 1},
#       "generator": {"style_dim": "${model.dim}", "size_in": 8, "size": "${model.resolution}",
#                     "tag": "r${model.resolution}", "env": "${oc.env:HOME}", "dims": [1, "${model.dim}"]},
#       "λ": "${.lambda}"}})
#   m = root.model; pickle.dumps({"dim": m.dim, "generator": m["generator"], "λ": m["λ"]}, protocol=2)
# stored zlib-compressed and base64-encoded. The sub-configs carry their _parent chain to the root.
REAL_OMEGACONF_2_1_2_HPARAMS = """
eNptlXl/1EQYx3fLUkpaqlAUrYqIqFvR9cQDFUWOoktbjUfjgTGbnd1JySb9bbLVpT4CctiqiPd9X2/C9+Br8pnJZpn48a9MJjPf
7/PMMzM5M0IoVZ0NpVKpGXRQro85m7ndFpHoemncxYgfd0Tb8+OoVWsGfqoaQds6zM1DWRMbZs6iQthY1VPdjki9ppd6GDWmNrxE
WDwh9QImzw2GWNjEc8cIm6vOGM/tipab9pcFLJ8fQdS2DkZ9C+POOH+MG0vCT7PvE/N6fLycBnHkhdiyplM4KfqYlCPORm63Qq+d
4CrC1Y6Vv7rdOE6xdd2Z1LIkDldE1/U9Xwps8/04DNnAxMRqipbXC1OVsYUp33UbvSBMg8h1raxv+wVcY+NaHQZrs7B2yHFngjtE
KDoiGsR6nRzvNZxNammWvS5343qplmyacENVjkq1BDcSbqpKS47LiXm5ZU1O6hQ6cVOE2Ck5iZvl1nW5TU5J9u6ycYtkldRkmdF2
E27NaXsItxVo8wpxu4G4w0bVRGTL6XKpUhXgDOHOqlPhrkSIJvYahYw4pkSVZZ4bFu5i3d2EGqv/W+0rRb6HB91LuK8Qk9yrgrrf
COoBGw/qfHZrtbvChd1XL3HXTjnd4weH9VBVlqWSPkx4ROWr2I8S9hfZZcV+zGA/buMJzZ6W++pjXA8r3wE9VXAc0NAnCU/l0IOE
p4vQAwp6yIAetnFkCN3F0FGGhl6n0fRwVFdllnAsr8ozhGeLwKMKWDeAx23MFSo7rXKed8rMncWCjvE5wvN5jDbhhSJyQSFfNJAv
2XhZo2Y5xnKvkfDLiKw4I4z8528saqZDeCVnvkp4rchcVMzXDeYJG2/keeuF3LNay9ImuL3GoFRvZvdBkvZD4arLxdOuBsHPXU2C
KLo85WoZrrYNqV0Vdk1olz4WfBl1CMHgZCXBKeEGEZa04iQhzBU8KCoqlpQiNhTLNpAr9N6oDIjoalxCSHNcj7BSxHUV7i0D97aN
/jDiKSPiK9uNcIo16sZKvTZWteUdAuWWdwmni5ZVZTljWM7aeG9o2a428/9pzg00IlrBea25QLiYa94nrBU155Vm3dB8YOPDoWZS
JxP7NcbtP7Ywd4Tw0WC5uBoJLhlXQBgk+b/iODfzf8XHrL1M+CQ/FJ8SPhuEULhk1XQLn2dRXVJRfWFE9aWNr+SO4oSY/xb4enhy
KnLmBL6p6py/JXyX5/w94YdCzvWSov9o0H+y8bNmXM6OjGb8Qvg1Z/xG+L3I0PfNHwbjTxt/5QzJu1Rkx2JRzvZq/wIWn11o
"""


def test_real_omegaconf_pickle_reads_as_plain_config(tmp_path):
    data = zlib.decompress(base64.b64decode("".join(REAL_OMEGACONF_2_1_2_HPARAMS.split())))
    path = write_raw_pickle_ckpt(tmp_path / "hp.ckpt", data)
    hp = load_torch_file(path, OFFICIAL_CHECKPOINT_GLOBALS)
    generator = hp["generator"]
    assert isinstance(generator, hparams.DictConfig)
    assert "_content" in vars(generator) and "_parent" in vars(generator)  # state stays readable
    assert plain(hp) == {
        "dim": 8,
        "generator": {"style_dim": 8, "size_in": 8, "size": 32, "tag": "r32",
                      "env": "${oc.env:HOME}",  # resolvers are never run
                      "dims": [1, 8]},
        "λ": {"G": 1},
    }


def test_official_checkpoint_classes_become_plain_values(tmp_path):
    path, _ = write_blobgan_checkpoint(tmp_path / "m.ckpt", SMALL, hparams_container="attributedict")
    ckpt = load_torch_file(path, OFFICIAL_CHECKPOINT_GLOBALS)
    assert type(ckpt["hyper_parameters"]) is dict  # Lightning's AttributeDict, as a plain dict
    (key,) = ckpt["callbacks"]
    assert key is hparams.Checkpoint  # a class used as a dict key (utils.io.Checkpoint)
    converted = plain(ckpt)
    assert converted["callbacks"]["utils.io.Checkpoint"]["dirpath"] == "/checkpoints"
    assert converted["hyper_parameters"]["generator"]["style_dim"] == SMALL.d_style  # ${model.dim}
    assert converted["hyper_parameters"]["λ"] == {"D_real": 1, "D_fake": 1, "D_R1": 50, "G": 1, "G_path": 2}


def test_inverter_checkpoint_layout_loads(tmp_path):
    """The official inverter (``<stem>_invert.ckpt``, the BlobGANInverter module) pickles its
    hyper_parameters as DictConfigs of the same kind; its tensors are inverter.*, generator.*_ema.*
    and L_LPIPS.*."""
    from checkpoint_factory import fake_training_modules, omega_tree

    root = omega_tree({"model": {"inverter": {"name": "StyleGANDiscriminator", "size": 256},
                                 "generator": {"dim": 512, "noise_dim": "${.dim}"},
                                 "λ": {"fake_latents_MSE": 10}, "generator_pretrained": {"id": "bed"}}})
    model = root._content["model"]._content
    sd = {"inverter.final_linear.1.weight": torch.zeros(4, 2), "generator.generator_ema.conv1.bias": torch.ones(3),
          "L_LPIPS.lin0.model.1.weight": torch.zeros(1, 2, 1, 1)}
    path = tmp_path / "bedrooms_invert.ckpt"
    with fake_training_modules():
        torch.save({"epoch": 3, "state_dict": sd, "hyper_parameters": {**model, "lr": 0.002, "trunc_max": 0.4},
                    "pytorch-lightning_version": "1.6.0"}, path)
    ckpt = load_torch_file(path, OFFICIAL_CHECKPOINT_GLOBALS)
    assert torch.equal(ckpt["state_dict"]["generator.generator_ema.conv1.bias"], torch.ones(3))
    hp = plain(ckpt["hyper_parameters"])
    assert hp["generator"] == {"dim": 512, "noise_dim": 512} and hp["λ"] == {"fake_latents_MSE": 10}
    assert hp["trunc_max"] == 0.4


# --------------------------------------------------------------------------------------------------
# Refused: anything that names code
# --------------------------------------------------------------------------------------------------

_NAMED = {"os_system": "system", "builtins_eval": "builtins.eval", "builtins_exec": "builtins.exec",
          "subprocess_popen": "subprocess.Popen", "copyreg_reconstructor": "copyreg._reconstructor",
          "getattr_import": "builtins.getattr", "in_state_dict": "system", "shutil_rmtree": "shutil.rmtree"}


def _refused(path, allow=OFFICIAL_CHECKPOINT_GLOBALS, error=UnsafeCheckpointError, match=None) -> str:
    with pytest.raises(error, match=match) as caught:
        load_torch_file(path, allow)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


@pytest.mark.parametrize("kind", MALICIOUS_KINDS)
def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = write_malicious_ckpt(tmp_path / f"{kind}.ckpt", kind, marker)
    message = _refused(path)
    assert _NAMED[kind] in message and "refusing to load" in message
    with pytest.raises(UnsafeCheckpointError):
        read_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["os_system", "builtins_eval"])
def test_malicious_fixture_is_live_under_a_normal_unpickler(tmp_path, kind):
    """The payloads really run under torch.load(weights_only=False): the test above means something."""
    marker = tmp_path / "pwned"
    path = write_malicious_ckpt(tmp_path / "evil.ckpt", kind, marker)
    torch.load(path, weights_only=False)
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("module, name", [
    ("builtins", "exec"), ("builtins", "__import__"), ("builtins", "getattr"), ("builtins", "compile"),
    ("copyreg", "__newobj__"), ("copyreg", "_reconstructor"), ("functools", "reduce"), ("functools", "partial"),
    ("operator", "attrgetter"), ("operator", "methodcaller"), ("importlib", "import_module"), ("pickle", "loads"),
    ("torch", "load"), ("torch.serialization", "load"), ("torch.jit", "load"), ("torch._C", "_jit_pass_inline"),
    ("numpy.core.multiarray", "_reconstruct"), ("runpy", "run_path"), ("ctypes", "CDLL"),
    ("collections", "OrderedDict.__init__.__globals__"),
])
def test_globals_outside_the_allowlist_are_refused(tmp_path, module, name):
    marker = tmp_path / "pwned"
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    data = PROTO + _global(module, name) + _str(code) + TUPLE1 + REDUCE + STOP
    message = _refused(write_raw_pickle_ckpt(tmp_path / "g.ckpt", data))
    assert f"refers to {module}.{name}," in message
    assert not marker.exists()


def test_python2_spelling_cannot_bypass_the_allowlist(tmp_path):
    data = PROTO + _global("__builtin__", "eval") + _str("1 + 1") + TUPLE1 + REDUCE + STOP
    _refused(write_raw_pickle_ckpt(tmp_path / "py2.ckpt", data), match=r"builtins\.eval")


def _trap_module(name: str, marker):
    """A module that nobody has, registered while a test pickles (and loads) a call to its trap()."""
    module = types.ModuleType(name)

    def trap(*args):
        marker.write_text("pwned")

    trap.__module__, trap.__qualname__ = name, "trap"
    module.trap = trap
    return module


def test_unknown_function_is_refused_even_when_importable(tmp_path):
    """An importable function that is on no list is refused, not imported or called."""
    marker = tmp_path / "called"
    sys.modules["blobgan_test_trap"] = _trap_module("blobgan_test_trap", marker)
    try:
        data = pickle_bytes({"x": call(sys.modules["blobgan_test_trap"].trap, "go")})
        path = write_raw_pickle_ckpt(tmp_path / "trap.ckpt", data)
        _refused(path, match="blobgan_test_trap.trap")
    finally:
        del sys.modules["blobgan_test_trap"]
    assert not marker.exists()


def test_unknown_class_is_refused(tmp_path):
    """A class official checkpoints do not use (here a Lightning-like callback whose __setstate__ would
    leave a mark) is refused instead of being built."""
    marker = tmp_path / "built"
    module = types.ModuleType("lightning_like_mod")

    class Callback:
        def __setstate__(self, state):
            marker.write_text("pwned")

    Callback.__module__, Callback.__qualname__ = "lightning_like_mod", "Callback"
    module.Callback = Callback
    sys.modules["lightning_like_mod"] = module
    try:
        path = tmp_path / "c.ckpt"
        torch.save({"callbacks": {Callback: {"score": 1}}, "obj": Callback()}, path)
        _refused(path, match="lightning_like_mod.Callback")
    finally:
        del sys.modules["lightning_like_mod"]
    assert not marker.exists()


def test_tensor_rebuild_through_a_foreign_function_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    sys.modules["blobgan_test_rebuild"] = _trap_module("blobgan_test_rebuild", marker)
    try:
        trap = sys.modules["blobgan_test_rebuild"].trap
        data = pickle_bytes(call(torch._tensor._rebuild_from_type_v2, trap, torch.Tensor, (), {}))
        _refused(write_raw_pickle_ckpt(tmp_path / "rebuild.ckpt", data), match="blobgan_test_rebuild.trap")
    finally:
        del sys.modules["blobgan_test_rebuild"]
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore")  # torch.jit's deprecation notices and torch.load's TorchScript notice
def test_torchscript_archive_is_refused(tmp_path):
    """A TorchScript archive carries code; a plain torch.load would hand it to torch.jit.load."""
    path = tmp_path / "scripted.ckpt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    _refused(path, error=CheckpointFormatError, match="TorchScript")


# --------------------------------------------------------------------------------------------------
# Refused: REDUCE, BUILD and persistent-id tricks with allowed names
# --------------------------------------------------------------------------------------------------

_DICTCONFIG = _global("omegaconf.dictconfig", "DictConfig")


def test_reduce_on_something_not_allowlisted_is_refused(tmp_path):
    """REDUCE may only call an allowlisted global, never an object the pickle built (a stand-in)."""
    data = PROTO + _DICTCONFIG + EMPTY_TUPLE + NEWOBJ + EMPTY_TUPLE + REDUCE + STOP
    _refused(write_raw_pickle_ckpt(tmp_path / "r.ckpt", data), match="reduce for unrecognized function")


def test_build_on_an_object_that_is_not_allowlisted_is_refused(tmp_path):
    data = PROTO + EMPTY_LIST + EMPTY_DICT + _str("x") + b"K\x01" + SETITEM + BUILD + STOP
    _refused(write_raw_pickle_ckpt(tmp_path / "b.ckpt", data), allow=(), match="Can only build")


@pytest.mark.parametrize("slots", [False, True], ids=["dict-state", "slot-state"])
def test_stand_in_state_cannot_replace_its_methods(tmp_path, slots):
    """BUILD only stores state: a second BUILD must not call an instance attribute "__setstate__"
    (here ``builtins.set``, an allowed callable) that the first one planted."""
    state = EMPTY_DICT + _str("__setstate__") + _global("builtins", "set") + SETITEM
    if slots:
        state = b"N" + state + TUPLE2
    data = PROTO + _DICTCONFIG + EMPTY_TUPLE + NEWOBJ + state + BUILD + EMPTY_DICT + BUILD + STOP
    _refused(write_raw_pickle_ckpt(tmp_path / "s.ckpt", data), match="state sets '__setstate__'")


def test_stand_ins_never_run_a_constructor(tmp_path):
    """"Calling" a stand-in class (REDUCE) makes an empty stand-in; the arguments are dropped."""
    data = PROTO + _DICTCONFIG + _str("rm -rf /") + TUPLE1 + REDUCE + STOP
    got = load_torch_file(write_raw_pickle_ckpt(tmp_path / "c.ckpt", data), OFFICIAL_CHECKPOINT_GLOBALS)
    assert isinstance(got, hparams.DictConfig) and vars(got) == {}


@pytest.mark.parametrize("pid, error, match", [
    (("module", "Evil", "evil.py", "import os"), UnsafeCheckpointError, "persistent_load of storage"),
    ("storage", UnsafeCheckpointError, "must be tuple or int"),
    (7, CheckpointFormatError, "cannot read the checkpoint"),
    (("storage", "not a storage type", "0", "cpu", 4), CheckpointFormatError, "cannot read the checkpoint"),
    (("storage",), CheckpointFormatError, "cannot read the checkpoint"),
], ids=["module-source", "string", "int", "bad-storage-type", "short-tuple"])
def test_odd_persistent_ids_are_refused(tmp_path, pid, error, match):
    path = write_raw_pickle_ckpt(tmp_path / "p.ckpt", pickle_bytes({"w": PersistentRef(pid)}),
                                 {"0": torch.ones(4).numpy().tobytes()})
    _refused(path, error=error, match=match)


# --------------------------------------------------------------------------------------------------
# Refused: damaged, oversize, nested and foreign files
# --------------------------------------------------------------------------------------------------


def _tensor(key: str, storage_numel: int, size: int, offset: int = 0):
    return call(torch._utils._rebuild_tensor_v2, StorageRef(key, storage_numel), offset, (size,), (1,), False,
                collections.OrderedDict())


@pytest.mark.parametrize("tensor", [
    _tensor("0", 4, 10),             # the tensor reaches past its storage
    _tensor("0", 4, 2, offset=3),    # its storage offset does
    _tensor("0", 1000, 1000),        # the storage claims more than its record (and the file) holds
    _tensor("0", 4, 2 ** 40),        # a terabyte tensor over 16 bytes
], ids=["past-storage", "offset", "storage-past-file", "oversize-tensor"])
def test_tensor_outside_its_data_is_refused(tmp_path, tensor):
    path = write_raw_pickle_ckpt(tmp_path / "oob.ckpt", pickle_bytes({"w": tensor}),
                                 {"0": torch.ones(4).numpy().tobytes()})
    _refused(path, error=CheckpointFormatError, match="cannot read the checkpoint")


def test_oversize_allocation_is_refused(tmp_path):
    """bytearray is allowlisted (torch writes bytearrays that way): a petabyte one is refused."""
    path = write_raw_pickle_ckpt(tmp_path / "big.ckpt", pickle_bytes({"x": call(bytearray, 2 ** 50)}))
    _refused(path, error=CheckpointFormatError, match="MemoryError")


def test_missing_storage_record(tmp_path):
    path = write_raw_pickle_ckpt(tmp_path / "missing.ckpt", pickle_bytes({"w": _tensor("7", 4, 4)}))
    _refused(path, error=CheckpointFormatError, match="data/7")


def test_nested_too_deeply(tmp_path):
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    path = tmp_path / "deep.ckpt"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)  # for the pickler only
    try:
        torch.save({"state_dict": official_state_dict_from_ours(random_state_dict(SMALL), SMALL),
                    "hyper_parameters": {"generator": deep}}, path)
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(CheckpointFormatError, match="nested too deeply"):
        read_official_checkpoint(path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_truncated_checkpoint(tmp_path, legacy):
    path, _ = write_blobgan_checkpoint(tmp_path / "m.ckpt", SMALL, legacy_format=legacy)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _refused(path, error=CheckpointFormatError, match="cannot read the checkpoint")
    with pytest.raises(CheckpointFormatError):
        read_checkpoint(path)


def test_malicious_legacy_format_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": malicious_payload("builtins_exec", marker)}, path,
               _use_new_zipfile_serialization=False)
    _refused(path, match=r"builtins\.exec")
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"hello, not a checkpoint", b""], ids=["text", "empty"])
def test_non_torch_files(tmp_path, content):
    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    _refused(path, error=CheckpointFormatError, match="not a torch checkpoint")


def test_zip_that_is_not_a_checkpoint(tmp_path):
    import zipfile

    path = tmp_path / "x.ckpt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hi")
    _refused(path, error=CheckpointFormatError, match="cannot read the checkpoint")


def test_truncated_pickle(tmp_path):
    path = write_raw_pickle_ckpt(tmp_path / "t.ckpt", pickle_bytes({"a": [1, 2, 3]})[:-5])
    _refused(path, error=CheckpointFormatError, match="EOFError")


def test_string_in_place_of_a_storage(tmp_path):
    data = pickle_bytes(call(torch._utils._rebuild_tensor_v2, "not a storage", 0, (2,), (1,), False,
                             collections.OrderedDict()))
    _refused(write_raw_pickle_ckpt(tmp_path / "s.ckpt", data), error=CheckpointFormatError)
