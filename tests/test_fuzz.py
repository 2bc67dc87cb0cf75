"""Seeded fuzzing, bounded in time, of the two other boundaries where users type things: edit lists
(through Scene.edit and rendering) and workflows (through the headless runner). Each case must end in a
finite image or an error whose message names the input: an edit by position, a node by id.
The preview route's fuzz is in test_route_bodies.py. A longer run: BLOBGAN_FUZZ_SECONDS=600 pytest
tests/test_fuzz.py."""

from __future__ import annotations

import copy
import json
import math
import os
import random
import time

import pytest
import torch
from conftest import random_model
from pack_fixtures import EXAMPLES, TINY_NAME, one_thread, write_tiny_checkpoint

from blobgan_core.edits import OPS, EditError
from blobgan_core.scene import Scene
from nodes.comfy import extra_model_folder
from nodes.runner import as_prompt, node_classes, run_prompt

SECONDS = float(os.environ.get("BLOBGAN_FUZZ_SECONDS", 6))
EXTREMES = [0, -0.0, 1, -1, 0.5, 1e-30, -1e-30, 1e-3, 1e3, 1e6, -1e6, 1e30, 1e308, -1e308, math.nan, math.inf,
            -math.inf, 2 ** 63, True, None, "1", [], {}, "background", 3]


def _random_edit(rng: random.Random, n_ids: int) -> dict:
    op = rng.choice([*OPS, "warp", None, 7])
    edit = {"op": op, "blob": rng.choice([*range(n_ids + 2), -1, 1.5, "0", None])}
    fields = OPS[op].fields if op in OPS else {}
    for name in fields:
        if rng.random() < 0.9:
            edit[name] = rng.choice(EXTREMES) if rng.random() < 0.5 else rng.uniform(-3, 3)
    if rng.random() < 0.05:
        edit[rng.choice(["x", "file", "dx"])] = 1
    return edit


def _deadline():
    return time.monotonic() + SECONDS


def test_random_edit_lists_end_in_a_finite_image_or_an_error_naming_the_edit():
    rng = random.Random(20261203)
    model = random_model()
    scene = Scene(model, model.sample_layout(seed=3), noise_seed=3)
    counts = {"rendered": 0, "refused": 0}
    end = _deadline()
    with one_thread():
        while time.monotonic() < end:
            edits = [_random_edit(rng, scene.layout.n_blobs) for _ in range(rng.randint(1, 8))]
            text = json.dumps(edits) if rng.random() < 0.5 else None  # NaN/Infinity spellings through JSON too
            try:
                edited = scene.edit(text if text is not None else copy.deepcopy(edits))
            except EditError as e:
                assert str(e).startswith(("edit #", "edits ")), str(e)
                counts["refused"] += 1
                continue
            image = edited.render()
            assert bool(torch.isfinite(image).all()), edits
            assert bool(torch.isfinite(edited.blob_map()).all()), edits
            counts["rendered"] += 1
    assert counts["rendered"] > 0 and counts["refused"] > 0, counts


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    write_tiny_checkpoint(folder / TINY_NAME)
    return folder


def _mutate(rng: random.Random, workflow: dict) -> str:
    """Change one thing a hand-edited or version-skewed file might: a widget value, a link, a node type."""
    nodes = workflow["nodes"]
    node = rng.choice(nodes)
    what = rng.choice(["widget", "widget", "widget", "link", "type", "drop"])
    if what == "widget" and node.get("widgets_values"):
        i = rng.randrange(len(node["widgets_values"]))
        node["widgets_values"][i] = rng.choice(EXTREMES + ["", "[{\"op\": \"move\"}]", "nope"])
    elif what == "link" and workflow.get("links"):
        link = rng.choice(workflow["links"])
        link[rng.choice([1, 2])] = rng.choice([999, -1, 0, 5])
    elif what == "type":
        node["type"] = rng.choice(["BlobGANEditBlob", "KSampler", "BlobGANRenderScene", ""])
    elif what == "drop":
        nodes.remove(node)
    return f"{what} on #{node['id']}"


def test_random_workflow_mutations_run_or_name_a_node(tiny_folder, tmp_path):
    rng = random.Random(7)
    base = json.loads((EXAMPLES / "blobgan_edit.json").read_text())
    for n in base["nodes"]:
        if n["type"] == "BlobGANLoader":
            n["widgets_values"][0:2] = [TINY_NAME, "cpu"]
    classes = node_classes()
    counts = {"ran": 0, "refused": 0}
    end = _deadline()
    with one_thread(), extra_model_folder(tiny_folder):
        while time.monotonic() < end:
            workflow = copy.deepcopy(base)
            change = _mutate(rng, workflow)
            out = tmp_path / f"run{counts['ran'] + counts['refused']}"
            try:
                files = run_prompt(as_prompt(workflow, classes), classes, out)
            except ValueError as e:
                message = str(e)
                assert "#" in message or "workflow" in message or "widget" in message, (change, message)
                assert not out.exists(), change  # nothing half-written
                counts["refused"] += 1
                continue
            assert files, change
            counts["ran"] += 1
    assert counts["refused"] > 0, counts
