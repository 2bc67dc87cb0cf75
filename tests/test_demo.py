"""scripts/demo.py, the main job of scripts/demo.sh: the edit example's before and after images, both blob
maps and a side-by-side sheet, and where they are."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from pack_fixtures import ROOT, TINY_NAME, write_tiny_checkpoint
from PIL import Image


def test_demo_writes_before_after_blob_maps_and_a_sheet(tmp_path):
    tiny = write_tiny_checkpoint(tmp_path / TINY_NAME)   # 32 px renders
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--out", str(out), "--model", str(tiny),
                           "--device", "cpu"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    names = ["before", "after", "before_blobs", "after_blobs", "edit_sheet"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in names)
    for n in names:
        assert str(out / f"{n}.png") in done.stdout
    assert '{"op": "to_front", "blob": 3}' in done.stdout  # the edit list is shown
    pictures = {n: np.asarray(Image.open(out / f"{n}.png").convert("RGB")) for n in names}
    assert pictures["before"].shape == (32, 32, 3) and pictures["before_blobs"].shape == (256, 256, 3)
    assert not np.array_equal(pictures["before"], pictures["after"])
    assert pictures["edit_sheet"].shape == (8 + 256 + 8 + 256 + 8, 8 + 256 + 8 + 256 + 8, 3)
    # bottom right of the sheet is the edited scene's blob map; top left the render before, upscaled 8x
    assert np.array_equal(pictures["edit_sheet"][-264:-8, -264:-8], pictures["after_blobs"])
    assert np.array_equal(pictures["edit_sheet"][8:264:8, 8:264:8], pictures["before"])


def test_demo_bad_model_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--out", str(tmp_path / "out"),
                           "--model", str(tmp_path / "none.safetensors")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        f"error: --model: no checkpoint at {tmp_path / 'none.safetensors'}"]
    assert not (tmp_path / "out").exists()
