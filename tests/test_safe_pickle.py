"""The restricted unpickler: tensors and containers come back exactly, other classes become inert
placeholders, and anything that could run code is refused before it runs."""

import base64
import collections
import sys
import types
import zlib

import pytest
import torch
from checkpoint_factory import (
    MALICIOUS_KINDS,
    StorageRef,
    call,
    pickle_bytes,
    write_malicious_ckpt,
    write_raw_pickle_ckpt,
)

from blobgan_core.checkpoint import (
    CheckpointFormatError,
    Placeholder,
    SkippedTensor,
    UnsafeCheckpointError,
    load_torch_file,
    plain,
    read_checkpoint,
)
from blobgan_core.checkpoint.safe_pickle import placeholder_class

# --------------------------------------------------------------------------------------------------
# Plain data and tensors
# --------------------------------------------------------------------------------------------------


def _assert_same(a, b):
    assert type(a) is type(b) or (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor))
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
    sd = collections.OrderedDict(w=torch.randn(3, 5), b=torch.zeros(3))
    return {
        "float32": torch.randn(2, 3),
        "float16": torch.randn(5).half(),
        "bfloat16": torch.randn(5).bfloat16(),
        "int64": torch.arange(7),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
        "strided_view": base[:, ::2],
        "transposed": base.t(),
        "offset_view": base[2:],
        "same_storage": base,
        "parameter": torch.nn.Parameter(torch.ones(2, 2)),
        "state_dict": sd,
        "nested": {"list": [1, 2.5, "x", None, True], "tuple": (1, (2, 3)), "set": {1, 2}, "bytes": b"\x00\xff",
                   "size": torch.Size([2, 3]), "dtype": torch.float16},
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_round_trip_matches_torch_load(tmp_path, legacy):
    path = tmp_path / "objects.pt"
    torch.save(_sample_objects(), path, _use_new_zipfile_serialization=not legacy)
    ours = load_torch_file(path)
    reference = torch.load(path, weights_only=True)
    for key in reference:
        if key == "parameter":  # parameters come back as plain tensors (no autograd state)
            assert torch.equal(ours[key], reference[key])
            continue
        _assert_same(ours[key], reference[key])
    assert isinstance(ours["state_dict"], collections.OrderedDict)
    # views of one storage still share it
    assert ours["strided_view"].untyped_storage().data_ptr() == ours["same_storage"].untyped_storage().data_ptr()


def test_bare_tensor_file(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.randn(1, 16), path)
    got = load_torch_file(path)
    assert torch.equal(got, torch.load(path, weights_only=True))


def test_tensors_are_copy_on_write_views_of_the_file(tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"w": torch.ones(1000)}, path)
    before = path.read_bytes()
    got = load_torch_file(path)["w"]
    got.mul_(5)  # writing to a loaded tensor must never touch the file
    assert path.read_bytes() == before
    assert torch.equal(load_torch_file(path)["w"], torch.ones(1000))


def test_python_mmap_fallback_maps_the_same_bytes(tmp_path):
    from blobgan_core.checkpoint.safe_pickle import map_file_with_python_mmap

    path = tmp_path / "raw.bin"
    path.write_bytes(bytes(range(256)) * 4)
    mapped = map_file_with_python_mmap(path)
    assert mapped.dtype == torch.uint8 and bytes(mapped.numpy()) == path.read_bytes()
    mapped[0] = 7  # copy-on-write: the file keeps its bytes
    assert path.read_bytes()[0] == 0


def test_keep_skips_tensors_and_reports_paths(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {"a.w": torch.ones(2, 3), "b.w": torch.zeros(4, dtype=torch.float16)},
                "opt": [{"exp_avg": torch.ones(5)}]}, path)
    seen = []

    def keep(p):
        seen.append(p)
        return p.startswith("state_dict/a.")

    got = load_torch_file(path, keep=keep)
    assert sorted(seen) == ["opt/0/exp_avg", "state_dict/a.w", "state_dict/b.w"]
    assert torch.equal(got["state_dict"]["a.w"], torch.ones(2, 3))
    assert got["state_dict"]["b.w"] == SkippedTensor(torch.float16, (4,))
    assert isinstance(got["opt"][0]["exp_avg"], SkippedTensor)


# --------------------------------------------------------------------------------------------------
# Placeholders for classes we do not import
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
    hp = load_torch_file(path)
    generator = hp["generator"]
    assert isinstance(generator, Placeholder)
    assert type(generator).class_path == "omegaconf.dictconfig.DictConfig"
    assert "_content" in generator.state and "_parent" in generator.state  # state stays readable
    assert plain(hp) == {
        "dim": 8,
        "generator": {"style_dim": 8, "size_in": 8, "size": 32, "tag": "r32",
                      "env": "${oc.env:HOME}",  # resolvers are never run
                      "dims": [1, 8]},
        "λ": {"G": 1},
    }


def test_placeholders_record_state_and_work_as_dict_keys(tmp_path):
    # a class keyed dict (Lightning's callbacks) and an object with state, from a module nobody has
    module = types.ModuleType("lightning_like_mod")

    class Callback:
        def __init__(self):
            self.best = torch.tensor(0.5)
            self.path = "/ckpt"

    Callback.__module__, Callback.__qualname__ = "lightning_like_mod", "Callback"
    module.Callback = Callback
    sys.modules["lightning_like_mod"] = module
    try:
        path = tmp_path / "c.ckpt"
        torch.save({"callbacks": {Callback: {"score": 1}}, "obj": Callback()}, path)
    finally:
        del sys.modules["lightning_like_mod"]
    got = load_torch_file(path)
    cls = placeholder_class("lightning_like_mod", "Callback")
    assert got["callbacks"][cls] == {"score": 1}  # the same placeholder class object, hashable
    obj = got["obj"]
    assert isinstance(obj, cls) and obj.state["path"] == "/ckpt" and torch.equal(obj.state["best"],
                                                                                  torch.tensor(0.5))
    assert {obj: 1}[obj] == 1
    converted = plain(got)
    assert converted["callbacks"] == {"lightning_like_mod.Callback": {"score": 1}}
    assert converted["obj"]["__class__"] == "lightning_like_mod.Callback"
    assert converted["obj"]["path"] == "/ckpt"


def test_unknown_function_is_recorded_not_called(tmp_path):
    """A global that is not on any list becomes an inert placeholder: even "calling" it only records
    the arguments, so the function is never imported or run."""
    marker = tmp_path / "called"
    module = types.ModuleType("blobgan_test_trap")

    def trap(target):
        open(target, "w").close()

    trap.__module__, trap.__qualname__ = "blobgan_test_trap", "trap"
    module.trap = trap
    sys.modules["blobgan_test_trap"] = module
    try:
        data = pickle_bytes({"x": call(trap, str(marker))})
        path = write_raw_pickle_ckpt(tmp_path / "trap.ckpt", data)
        got = load_torch_file(path)
    finally:
        del sys.modules["blobgan_test_trap"]
    assert not marker.exists()
    assert type(got["x"]).class_path == "blobgan_test_trap.trap"
    assert got["x"].args == (str(marker),)


# --------------------------------------------------------------------------------------------------
# Malicious files
# --------------------------------------------------------------------------------------------------

_NAMED = {"os_system": "system", "builtins_eval": "builtins.eval", "builtins_exec": "builtins.exec",
          "subprocess_popen": "subprocess.Popen", "copyreg_reconstructor": "subprocess.Popen",
          "getattr_import": "builtins.", "in_state_dict": "system", "shutil_rmtree": "shutil.rmtree"}


@pytest.mark.parametrize("kind", MALICIOUS_KINDS)
def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = write_malicious_ckpt(tmp_path / f"{kind}.ckpt", kind, marker)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_torch_file(path)
    message = str(err.value)
    assert str(path) in message and _NAMED[kind] in message and "refusing to load" in message
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


def test_python2_spelling_cannot_bypass_the_denylist(tmp_path):
    data = b"\x80\x02c__builtin__\neval\nq\x00X\x06\x00\x00\x001 + 1 q\x01\x85q\x02Rq\x03."
    path = write_raw_pickle_ckpt(tmp_path / "py2.ckpt", data)
    with pytest.raises(UnsafeCheckpointError, match=r"builtins\.eval"):
        load_torch_file(path)


def test_dunder_attribute_walks_are_refused(tmp_path):
    data = b"\x80\x02ccollections\nOrderedDict.__init__.__globals__\nq\x00."
    path = write_raw_pickle_ckpt(tmp_path / "walk.ckpt", data)
    with pytest.raises(UnsafeCheckpointError):
        load_torch_file(path)


def test_tensor_rebuild_through_a_foreign_function_is_refused(tmp_path):
    module = types.ModuleType("blobgan_test_rebuild")

    def fake_rebuild(*args):
        raise AssertionError("must never be called")

    fake_rebuild.__module__, fake_rebuild.__qualname__ = "blobgan_test_rebuild", "fake_rebuild"
    module.fake_rebuild = fake_rebuild
    sys.modules["blobgan_test_rebuild"] = module
    try:
        data = pickle_bytes(call(torch._tensor._rebuild_from_type_v2, fake_rebuild, torch.Tensor, (), {}))
    finally:
        del sys.modules["blobgan_test_rebuild"]
    path = write_raw_pickle_ckpt(tmp_path / "rebuild.ckpt", data)
    with pytest.raises(UnsafeCheckpointError, match="blobgan_test_rebuild.fake_rebuild"):
        load_torch_file(path)


def test_placeholder_is_not_accepted_as_a_storage(tmp_path):
    data = pickle_bytes(call(torch._utils._rebuild_tensor_v2, "not a storage", 0, (2,), (1,), False,
                             collections.OrderedDict()))
    path = write_raw_pickle_ckpt(tmp_path / "s.ckpt", data)
    with pytest.raises(UnsafeCheckpointError, match="instead of a storage"):
        load_torch_file(path)


# --------------------------------------------------------------------------------------------------
# Damaged and foreign files
# --------------------------------------------------------------------------------------------------


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
    tensor = call(torch._utils._rebuild_tensor_v2, StorageRef("0", 4), 0, (10,), (1,), False,
                  collections.OrderedDict())
    path = write_raw_pickle_ckpt(tmp_path / "oob.ckpt", pickle_bytes({"w": tensor}),
                                 {"0": torch.ones(4).numpy().tobytes()})
    with pytest.raises(CheckpointFormatError, match="past its storage"):
        load_torch_file(path)


def test_missing_storage_record(tmp_path):
    tensor = call(torch._utils._rebuild_tensor_v2, StorageRef("7", 4), 0, (4,), (1,), False,
                  collections.OrderedDict())
    path = write_raw_pickle_ckpt(tmp_path / "missing.ckpt", pickle_bytes({"w": tensor}))
    with pytest.raises(CheckpointFormatError, match="data/7 is missing"):
        load_torch_file(path)


@pytest.mark.parametrize("content, message", [
    (b"hello, not a checkpoint", "not a torch checkpoint"),
    (b"", "not a torch checkpoint"),
])
def test_non_torch_files(tmp_path, content, message):
    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError, match=message):
        load_torch_file(path)


def test_zip_that_is_not_a_checkpoint(tmp_path):
    import zipfile

    path = tmp_path / "x.ckpt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointFormatError, match="no '<archive>/data.pkl'"):
        load_torch_file(path)


def test_truncated_pickle(tmp_path):
    path = write_raw_pickle_ckpt(tmp_path / "t.ckpt", pickle_bytes({"a": [1, 2, 3]})[:-5])
    with pytest.raises(CheckpointFormatError, match="cannot read the pickled data"):
        load_torch_file(path)
