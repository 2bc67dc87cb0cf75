"""The headless runner: format conversion, execution order, errors, and the example workflows."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
from pack_fixtures import API_FIXTURES, EXAMPLES, ROOT, TINY_NAME, one_thread, pack, write_tiny_checkpoint
from PIL import Image

from blobgan_core.loading import DEFAULT_MODEL_PATH
from nodes.runner import as_prompt, execution_order, run_prompt, run_workflow, ui_to_prompt

# the examples that need no diffusion checkpoint
OUR_MODEL_ONLY = ["blobgan_generate.json", "blobgan_edit.json", "blobgan_drag_points.json", "blobgan_animate.json"]
# reads example_workflows/input/blobgan_room.png through a core Load Image node
NEEDS_PICTURE = ["blobgan_invert_edit.json"]
NEEDS_SD = ["blobgan_masks_inpaint.json"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("models") / TINY_NAME)


@pytest.fixture(scope="module")
def classes():
    return dict(pack().NODE_CLASS_MAPPINGS)


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))



@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield

# -- formats -----------------------------------------------------------------------------------------

def test_every_example_is_in_the_ui_format_with_a_thumbnail():
    files = sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert files == sorted(OUR_MODEL_ONLY + NEEDS_SD + NEEDS_PICTURE)
    for name in files:
        wf = example(name)
        assert isinstance(wf["nodes"], list) and isinstance(wf["links"], list) and wf["version"] == 0.4
        thumb = EXAMPLES / name.replace(".json", ".jpg")
        assert thumb.is_file(), f"{name} has no thumbnail"
        assert min(Image.open(thumb).size) >= 128


@pytest.mark.parametrize("name", OUR_MODEL_ONLY)
def test_ui_to_prompt_matches_what_the_real_frontend_builds(name, classes):
    """The API fixtures were made by ComfyUI's frontend (1.27.10, graphToPrompt) from these files."""
    ours = ui_to_prompt(example(name), classes)
    frontend = json.loads((API_FIXTURES / name.replace(".json", ".api.json")).read_text())
    assert {k: (v["class_type"], v["inputs"]) for k, v in ours.items()} == \
           {k: (v["class_type"], v["inputs"]) for k, v in frontend.items()}


def test_api_format_and_post_body_are_accepted(classes):
    api = json.loads((API_FIXTURES / "blobgan_generate.api.json").read_text())
    assert as_prompt(api, classes).keys() == api.keys()
    assert as_prompt({"prompt": api, "client_id": "x"}, classes).keys() == api.keys()
    with pytest.raises(ValueError, match="not a ComfyUI workflow"):
        as_prompt({"hello": 1}, classes)


def test_nodes_it_cannot_run_are_named(classes):
    message = (r"the headless runner cannot run nodes #5 'ImageScale', #6 'CheckpointLoaderSimple', "
               r"#7 'CLIPTextEncode', #8 'CLIPTextEncode', #9 'VAEEncodeForInpaint', #10 'KSampler', "
               r"#11 'VAEDecode'; it runs .*BlobGANLoader.*SaveImage")
    with pytest.raises(ValueError, match=message):
        ui_to_prompt(example("blobgan_masks_inpaint.json"), classes)
    api = json.loads((API_FIXTURES / "blobgan_masks_inpaint.api.json").read_text())
    with pytest.raises(ValueError, match=message):
        run_prompt(api, classes, "unused")


def test_widget_values_that_do_not_fit_are_an_error(classes):
    wf = example("blobgan_generate.json")
    sampler = next(n for n in wf["nodes"] if n["type"] == "BlobGANSampleBlobs")
    sampler["widgets_values"] = [7, 0.4, 1]  # saved without the control-after-generate value
    with pytest.raises(ValueError, match=r"BlobGANSampleBlobs\) has 3 widget values.*4 widgets: seed, "
                                         r"\(control after generate\), truncation, batch_size"):
        ui_to_prompt(wf, classes)


def test_virtual_muted_and_bypassed_nodes(classes):
    wf = example("blobgan_generate.json")
    by_type = {n["type"]: n for n in wf["nodes"]}
    # a Reroute between Sample Blobs and Render Scene
    link = next(lk for lk in wf["links"] if lk[5] == "BLOB_SCENE")
    reroute_id, new_link = 100, 100
    wf["nodes"].append({"id": reroute_id, "type": "Reroute", "pos": [0, 0], "mode": 0,
                        "inputs": [{"name": "", "type": "*", "link": link[0]}],
                        "outputs": [{"name": "", "type": "BLOB_SCENE", "links": [new_link]}]})
    wf["links"].append([new_link, reroute_id, 0, link[3], link[4], "BLOB_SCENE"])
    link[3], link[4] = reroute_id, 0
    next(i for i in by_type["BlobGANRenderScene"]["inputs"] if i["name"] == "scene")["link"] = new_link
    prompt = ui_to_prompt(wf, classes)
    render = next(v for v in prompt.values() if v["class_type"] == "BlobGANRenderScene")
    assert render["inputs"]["scene"] == [str(by_type["BlobGANSampleBlobs"]["id"]), 0]
    assert all(v["class_type"] not in ("Note", "Reroute") for v in prompt.values())
    # muting Save Image drops it; bypassing Sample Blobs leaves Render Scene unconnected
    by_type["SaveImage"]["mode"] = 2
    assert all(v["class_type"] != "SaveImage" for v in ui_to_prompt(wf, classes).values())
    by_type["BlobGANSampleBlobs"]["mode"] = 4
    render = next(v for v in ui_to_prompt(wf, classes).values() if v["class_type"] == "BlobGANRenderScene")
    assert "scene" not in render["inputs"]


def test_execution_order_and_cycles():
    prompt = {"3": {"class_type": "C", "inputs": {"x": ["2", 0]}},
              "2": {"class_type": "B", "inputs": {"x": ["1", 0], "y": "text"}},
              "1": {"class_type": "A", "inputs": {}}}
    assert execution_order(prompt) == ["1", "2", "3"]
    prompt["1"]["inputs"]["x"] = ["3", 0]
    with pytest.raises(ValueError, match="cycle"):
        execution_order(prompt)
    with pytest.raises(ValueError, match="reads from node #9"):
        execution_order({"1": {"class_type": "A", "inputs": {"x": ["9", 0]}}})


# -- running -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", OUR_MODEL_ONLY)
def test_examples_run_on_a_tiny_model_in_both_formats(name, tiny, tmp_path):
    ui_files = run_workflow(EXAMPLES / name, tmp_path / "ui", model=tiny, device="cpu")
    api_files = run_workflow(API_FIXTURES / name.replace(".json", ".api.json"), tmp_path / "api", model=tiny,
                             device="cpu")
    assert [f.name for f in ui_files] == [f.name for f in api_files] and ui_files
    for a, b in zip(ui_files, api_files):
        assert pixels(a).shape == (32, 32, 3)
        assert np.array_equal(pixels(a), pixels(b))


def test_a_required_input_left_open_is_named(tiny, tmp_path):
    wf = example("blobgan_generate.json")
    render = next(n for n in wf["nodes"] if n["type"] == "BlobGANRenderScene")
    wf["links"] = [lk for lk in wf["links"] if lk[3] != render["id"]]
    render["inputs"][0]["link"] = None
    with pytest.raises(ValueError, match=r"BlobGANRenderScene\): required input 'scene' is not connected"):
        run_workflow(wf, tmp_path, model=tiny)


def test_node_errors_name_the_node_and_input(tiny, tmp_path):
    wf = example("blobgan_edit.json")
    editor = next(n for n in wf["nodes"] if n["type"] == "BlobGANEditBlob")
    editor["widgets_values"] = ['[{"op": "move", "blob": 42, "dx": 0, "dy": 0}]']
    with pytest.raises(ValueError, match=r"node #\d+ \(BlobGANEditBlob\): Edit Blob \(edits\): edit #0 \(move\): "
                                         r"no blob with id 42"):
        run_workflow(wf, tmp_path, model=tiny)


def test_without_save_nodes_the_render_outputs_are_written(tiny, tmp_path):
    wf = example("blobgan_generate.json")
    wf["nodes"] = [n for n in wf["nodes"] if n["type"] != "SaveImage"]
    files = run_workflow(wf, tmp_path, model=tiny)
    assert sorted(f.name for f in files) == ["render_3_00000.png", "render_3_blob_map_00000.png"]


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="--model: no checkpoint"):
        run_workflow(EXAMPLES / "blobgan_generate.json", tmp_path, model=tmp_path / "none.safetensors")


def test_command_line(tiny, tmp_path):
    """The README's command, as a user runs it: a fresh interpreter given the pack's folder, started
    from another directory."""
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT), str(EXAMPLES / "blobgan_edit.json"), "--out", str(out),
           "--model", str(tiny), "--device", "cpu"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in out.iterdir())
    save_id = next(n["id"] for n in example("blobgan_edit.json")["nodes"] if n["type"] == "SaveImage")
    assert written == [f"BlobGAN_edit_{save_id}_00000.png"]
    assert str(out / written[0]) in done.stdout
    bad = subprocess.run([sys.executable, str(ROOT), str(EXAMPLES / "blobgan_masks_inpaint.json")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "CheckpointLoaderSimple" in bad.stderr


@pytest.mark.skipif(not DEFAULT_MODEL_PATH.is_file(),
                    reason=f"the embedded default model is not there yet ({DEFAULT_MODEL_PATH})")
@pytest.mark.parametrize("name", OUR_MODEL_ONLY)
def test_examples_run_on_the_embedded_default(name, tmp_path):
    from blobgan_core.checkpoint.native import load_native
    resolution = load_native(DEFAULT_MODEL_PATH)[0].resolution
    files = run_workflow(EXAMPLES / name, tmp_path, device="cpu")
    assert files
    for f in files:
        image = pixels(f)
        # renders and blob maps come at the model's resolution; a blank or constant image fails std()
        assert image.shape[:2] == (resolution, resolution) and image.std() > 5


def test_the_workflow_is_not_modified(tiny, tmp_path):
    wf = example("blobgan_edit.json")
    before = copy.deepcopy(wf)
    run_workflow(wf, tmp_path, model=tiny)
    assert wf == before


# -- the command line: bad input is one line naming it, and nothing is left half-written ---------------

def _cli(tmp_path, *args):
    done = subprocess.run([sys.executable, str(ROOT), *map(str, args)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stderr.strip().splitlines()


@pytest.mark.parametrize("make, fragment", [
    (lambda d: d, "a folder; give a workflow .json file"),
    (lambda d: d / "missing.json", "no such file"),
    (lambda d: (d / "bin.json").write_bytes(bytes(range(256)) * 4) and d / "bin.json", "is not a text file"),
    (lambda d: (d / "deep.json").write_text("[" * 100_000) and d / "deep.json", "is not valid JSON"),
])
def test_bad_workflow_files_are_one_line(tmp_path, make, fragment):
    code, lines = _cli(tmp_path, make(tmp_path), "--out", tmp_path / "out")
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines


def test_an_out_that_is_a_file_is_refused_before_running(tmp_path, tiny):
    out = tmp_path / "taken.png"
    out.write_bytes(b"the user's file")
    code, lines = _cli(tmp_path, EXAMPLES / "blobgan_generate.json", "--out", out, "--model", tiny)
    assert code == 1 and lines == [f"error: --out: {out} is a file, not a folder"]
    assert out.read_bytes() == b"the user's file"


def test_a_run_that_fails_late_writes_nothing_and_leaves_the_workflow_as_it_was(tmp_path, tiny):
    """The edit example with a bad edit list in its last Edit Blob: its Save Image nodes before it would
    have written files; none may be left, and the workflow file is not touched."""
    workflow = example("blobgan_edit.json")
    edit_node = next(n for n in workflow["nodes"] if n["type"] == "BlobGANEditBlob")
    edit_node["widgets_values"][0] = json.dumps([{"op": "reshape", "blob": 1, "aspect": 1e6}])
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow))
    before = path.read_bytes()
    code, lines = _cli(tmp_path, path, "--out", tmp_path / "out", "--model", tiny)
    assert code == 1 and "would stretch its blob" in lines[-1] and "Traceback" not in "\n".join(lines)
    assert not (tmp_path / "out").exists()
    assert path.read_bytes() == before


def test_an_unsafe_checkpoint_is_one_line_naming_the_file(tmp_path):
    from checkpoint_factory import write_malicious_ckpt

    marker = tmp_path / "pwned"
    evil = write_malicious_ckpt(tmp_path / "evil.ckpt", "os_system", marker)
    code, lines = _cli(tmp_path, EXAMPLES / "blobgan_generate.json", "--out", tmp_path / "out", "--model", evil)
    assert code == 1 and len([x for x in lines if x.startswith("error: ")]) == 1, lines
    assert str(evil) in lines[-1] and "Traceback" not in "\n".join(lines)
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_the_picture_example_runs_headless_from_any_folder(tmp_path, monkeypatch):
    """Load Image finds the shipped picture in input/ beside the workflow; both composites keep the
    picture's size (256 x 192), not the model's 64 x 64."""
    from PIL import Image as PILImage

    monkeypatch.chdir(tmp_path)
    files = run_workflow(EXAMPLES / "blobgan_invert_edit.json", tmp_path / "out")
    assert sorted(f.name for f in files) == ["BlobGAN_invert_drag_10_00000.png", "BlobGAN_invert_edit_7_00000.png"]
    assert all(PILImage.open(f).size == (256, 192) for f in files)
