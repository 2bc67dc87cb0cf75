"""The library installs from a clone: a wheel built from pyproject.toml holds blobgan_core and blobgan_lab
with their data files and nothing of the node pack, and the README's Python example runs from it in
another directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

README_EXAMPLE = re.compile(r"## Python API\n.*?```python\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools in the venv")
    out = tmp_path_factory.mktemp("wheel")
    # a copy of what the build reads, so that setuptools' build/ and egg-info do not land in the clone
    src = tmp_path_factory.mktemp("clone")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("blobgan_core", "blobgan_lab"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    # no build isolation: the test must not need the network for setuptools
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return next(out.glob("*.whl"))


def test_the_wheel_holds_the_library_and_its_data_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "blobgan_core/default_model/blobgan_rooms.safetensors" in names
    assert "blobgan_core/palettes.json" in names
    assert "blobgan_lab/metrics/room_segmenter.safetensors" in names
    assert "blobgan_lab/train/loop.py" in names and "blobgan_core/drag/loop.py" in names
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"blobgan_core", "blobgan_lab"}


def test_readme_example_runs_from_the_installed_library(wheel, tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    example = README_EXAMPLE.search((ROOT / "README.md").read_text()).group(1)
    script = tmp_path / "elsewhere" / "example.py"
    script.parent.mkdir()
    script.write_text(example + "\nimport blobgan_core\nprint(blobgan_core.__file__, tuple(image.shape))\n")
    # the clone is not on the path: only the installed copy (and the venv's torch) can be imported
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    where, shape = done.stdout.strip().rsplit(" (", 1)
    assert Path(where).is_relative_to(site)
    assert shape.startswith("1, 3, ")
