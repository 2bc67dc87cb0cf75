"""The live preview route (nodes/preview.py) and the widget's scene info (blobgan_core/scene_info.py):
strict request validation, the scene cache, rendering with a tiny model, the handler's answers, and a real
aiohttp server on loopback when aiohttp is installed."""

from __future__ import annotations

import asyncio
import base64
import gc
import io
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import random_model
from PIL import Image

from blobgan_core.images import to_uint8
from blobgan_core.scene import Scene
from blobgan_core.scene_info import blob_palette, scene_info
from blobgan_core.visualize import blob_colors
from nodes import preview

ROOT = Path(__file__).resolve().parent.parent
MOVE = [{"op": "move", "blob": 1, "dx": 0.2, "dy": -0.1}]


@pytest.fixture(scope="module")
def model():
    return random_model()


@pytest.fixture
def scene(model):
    return Scene(model, model.sample_layout(seed=5, batch=2), noise_seed=5)


@pytest.fixture(autouse=True)
def empty_cache():
    preview.forget_scenes()
    yield
    preview.forget_scenes()


def decode(body: dict) -> np.ndarray:
    header, data = body["image"].split(",", 1)
    assert header.startswith("data:image/")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


# -- request validation -----------------------------------------------------------------------------

def test_a_minimal_request_parses_with_defaults():
    r = preview.parse_request({"node_id": "5", "edits": "[]"})
    assert (r.node_id, r.edits, r.max_side, r.overlay, r.format) == ("5", [], None, False, "png")
    r = preview.parse_request({"node_id": "12:5", "edits": MOVE, "max_side": 64, "overlay": True, "format": "webp"})
    assert r.edits == MOVE and r.max_side == 64 and r.overlay and r.format == "webp"


@pytest.mark.parametrize("node_id", ["", "../models", "a/b", "C:\\x", "5 ", "a.b", "1" * 40, ":5", 5, None, ["5"]])
def test_node_ids_that_are_not_ids_are_refused(node_id):
    with pytest.raises(preview.PreviewError, match="'node_id' must be a node id") as e:
        preview.parse_request({"node_id": node_id, "edits": []})
    assert e.value.status == 400 and e.value.field == "node_id"


@pytest.mark.parametrize("payload, field, fragment", [
    ([], None, "must be a JSON object"),
    ({"edits": []}, "node_id", "missing field 'node_id'"),
    ({"node_id": "5"}, "edits", "missing field 'edits'"),
    ({"node_id": "5", "edits": [], "path": "/etc/passwd"}, "path", "unknown field(s) ['path']"),
    ({"node_id": "5", "edits": [], "model": "x.safetensors"}, "model", "unknown field(s) ['model']"),
    ({"node_id": "5", "edits": {"op": "move"}}, "edits", "JSON text or as a list"),
    ({"node_id": "5", "edits": "x" * (preview.MAX_EDITS_CHARS + 1)}, "edits", "characters long"),
    ({"node_id": "5", "edits": [{"op": "remove", "blob": 0}] * (preview.MAX_EDITS + 1)}, "edits", "at most"),
    ({"node_id": "5", "edits": "[{"}, "edits", "not valid JSON"),
    ({"node_id": "5", "edits": [{"op": "fly", "blob": 0}]}, "edits", "unknown op 'fly'"),
    ({"node_id": "5", "edits": [{"op": "move", "blob": 0, "dx": float("nan"), "dy": 0}]}, "edits", "finite"),
    ({"node_id": "5", "edits": [], "max_side": 64.0}, "max_side", "integer in 16..4096"),
    ({"node_id": "5", "edits": [], "max_side": True}, "max_side", "integer in 16..4096"),
    ({"node_id": "5", "edits": [], "max_side": 8}, "max_side", "integer in 16..4096"),
    ({"node_id": "5", "edits": [], "overlay": "yes"}, "overlay", "true or false"),
    ({"node_id": "5", "edits": [], "format": "gif"}, "format", "one of ['png', 'jpeg', 'webp']"),
])
def test_bad_requests_name_the_field(payload, field, fragment):
    with pytest.raises(preview.PreviewError) as e:
        preview.parse_request(payload)
    assert e.value.status == 400
    assert e.value.field == field
    assert fragment in str(e.value)


def test_the_body_decoder_refuses_nan_and_non_json():
    with pytest.raises(preview.PreviewError, match="not valid JSON"):
        preview.decode_body(b'{"node_id": "5", "edits": [], "max_side": NaN}')
    with pytest.raises(preview.PreviewError, match="not valid JSON"):
        preview.decode_body(b"\xff\xfe")
    assert preview.decode_body(b'{"node_id": "5", "edits": []}') == {"node_id": "5", "edits": []}


# -- the scene cache --------------------------------------------------------------------------------

def test_the_cache_keeps_the_most_recently_used_scenes(scene):
    cache = preview.SceneCache(capacity=2)
    cache.put("1", scene)
    cache.put("2", scene, source=scene)
    assert cache.get("1")[1] is None and cache.get("2")[1].layout.batch == 1
    assert cache.get("1") is not None  # 1 is now the most recent
    cache.put("3", scene)
    assert cache.get("2") is None and cache.get("1") is not None and cache.get("3") is not None
    assert len(cache) == 2
    with pytest.raises(ValueError, match="capacity"):
        preview.SceneCache(capacity=0)


def test_the_cache_keeps_batch_item_0_and_not_the_model():
    model = random_model(seed=3)
    cache = preview.SceneCache()
    cache.put("4", Scene(model, model.sample_layout(seed=1, batch=3), noise_seed=1))
    got, _ = cache.get("4")
    assert got.layout.batch == 1 and got.model is model and got.noise_seed == 1
    del model, got
    gc.collect()
    assert cache.get("4") is None, "a cached scene kept its model alive"


def test_remember_scene_never_raises(scene):
    assert preview.remember_scene(None, scene) is None
    assert preview.remember_scene("../x", scene) is None  # logged, not raised
    assert preview.cached_scene("../x") is None
    assert preview.remember_scene(7, scene) == "7"       # ComfyUI's UNIQUE_ID is a string, but be lenient
    assert preview.cached_scene("7") is not None


def test_editor_ui_remembers_the_scene_and_describes_item_0(scene):
    ui = preview.editor_ui("11", scene)
    assert ui["blobgan_scene"] == [scene_info(scene)]
    assert ui["blobgan_image"] == []  # no temp folder outside ComfyUI
    assert preview.cached_scene("11") is not None
    assert preview.editor_ui("11", scene, render=False) == {"blobgan_scene": [scene_info(scene)],
                                                             "blobgan_node": ["11"]}
    # the widget sends back the id the scene is kept under: inside a subgraph, the execution path
    assert preview.editor_ui("12:5", scene, render=False)["blobgan_node"] == ["12:5"]
    assert preview.cached_scene("12:5") is not None and preview.cached_scene("5") is None
    assert "blobgan_node" not in preview.editor_ui("../x", scene, render=False)   # not kept: nothing to send back
    # a scene the widget cannot show costs the node nothing but the editor data
    broken = scene.with_layout(scene.layout.replace(xs=scene.layout.xs * float("nan")), scene.ids)
    assert preview.editor_ui("12", broken) == {}


# -- scene info -------------------------------------------------------------------------------------

def test_scene_info_lists_blobs_by_id_with_their_blob_map_colours(scene):
    # a depth edit reorders the layout; ids (and colours) stay with the blobs
    edited = scene.edit([{"op": "to_front", "blob": 0}, {"op": "remove", "blob": 2}])
    info = scene_info(edited)
    k = edited.layout.n_blobs
    assert info["width"] == info["height"] == edited.model.resolution
    assert info["order"] == list(edited.ids) == [1, 2, 3, 0]
    assert [b["id"] for b in info["blobs"]] == list(range(k))
    colors = blob_colors(edited.model.config.palette, k)
    for b in info["blobs"]:
        depth = edited.ids.index(b["id"])
        assert b["x"] == pytest.approx(edited.layout.xs[0, depth].item())
        assert b["size"] == pytest.approx(edited.layout.sizes[0, depth + 1].item())
        assert b["cov"][0][1] == b["cov"][1][0]
        rgb = [int(b["color"][i:i + 2], 16) / 255 for i in (1, 3, 5)]
        assert rgb == pytest.approx(colors[b["id"] + 1].tolist(), abs=1 / 255)
    assert info["blobs"][2]["size"] == -100
    assert info["palette"] == blob_palette(edited.model.config.palette)
    with pytest.raises(ValueError, match="index"):
        scene_info(scene, index=2)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_scene_info_is_what_the_widget_parses(scene):
    info = scene_info(scene, index=1)
    script = ("import { parseSceneInfo, applyEdits } from './web/js/blob_geometry.js';"
              "const s = parseSceneInfo(JSON.parse(process.argv[1]));"
              "const e = applyEdits(s, [{op: 'duplicate', blob: 1, dx: 0, dy: 0}]);"
              "console.log(JSON.stringify({n: s.blobs.length, dupColor: e.blobs.at(-1).color}));")
    out = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(info)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    k = scene.layout.n_blobs
    assert got["n"] == k
    # a duplicate gets the next id and that id's palette colour, as the blob map draws it
    assert got["dupColor"] == info["palette"][k % len(info["palette"])]


# -- the handler ------------------------------------------------------------------------------------

def test_a_node_that_never_ran_answers_404():
    status, body = preview.handle_preview({"node_id": "42", "edits": []})
    assert status == 404
    assert "queue the workflow once" in body["error"]


def test_the_preview_is_the_render_a_run_would_make(scene):
    preview.remember_scene("5", scene)
    status, body = preview.handle_preview({"node_id": "5", "edits": MOVE})
    assert status == 200, body
    item = scene.with_layout(scene.layout.select(0), scene.ids)
    expected = to_uint8(scene.model.render(item.edit(MOVE).layout, noise=scene.noise_seed))[0]
    np.testing.assert_array_equal(decode(body), expected)  # PNG is lossless
    assert body["width"] == body["height"] == scene.model.resolution
    # the scene info is the node's input, which the widget's edits are relative to
    assert body["scene"] == scene_info(scene)
    unedited = decode(preview.handle_preview({"node_id": "5", "edits": "[]"})[1])
    assert np.abs(unedited.astype(int) - expected.astype(int)).max() > 0


def test_restyle_previews_read_the_remembered_source_scene(scene, model):
    source = Scene(model, model.sample_layout(seed=9, batch=2), noise_seed=9)
    restyle = [{"op": "restyle", "blob": 0, "source_blob": 1}]
    preview.remember_scene("5", scene)
    status, body = preview.handle_preview({"node_id": "5", "edits": restyle})
    assert status == 400 and "source_scene" in body["error"]
    preview.remember_scene("5", scene, source)
    status, body = preview.handle_preview({"node_id": "5", "edits": restyle})
    assert status == 200, body
    item = scene.with_layout(scene.layout.select(0), scene.ids)
    source0 = source.with_layout(source.layout.select(0), source.ids)  # item 0 restyles item 0
    expected = to_uint8(model.render(item.edit(restyle, source0).layout, noise=scene.noise_seed))[0]
    np.testing.assert_array_equal(decode(body), expected)


def test_formats_size_and_overlay(scene):
    preview.remember_scene("5", scene)
    for fmt, mime in preview.FORMATS.items():
        status, body = preview.handle_preview({"node_id": "5", "edits": MOVE, "format": fmt})
        assert status == 200 and body["image"].startswith(f"data:{mime};base64,")
        assert decode(body).shape == (32, 32, 3)
    status, body = preview.handle_preview({"node_id": "5", "edits": MOVE, "max_side": 16})
    assert decode(body).shape == (16, 16, 3) and body["width"] == 16
    # max_side never enlarges
    assert decode(preview.handle_preview({"node_id": "5", "edits": [], "max_side": 64})[1]).shape == (32, 32, 3)
    plain = decode(preview.handle_preview({"node_id": "5", "edits": MOVE})[1])
    overlaid = decode(preview.handle_preview({"node_id": "5", "edits": MOVE, "overlay": True})[1])
    assert np.abs(plain.astype(int) - overlaid.astype(int)).max() > 10


def test_edits_that_do_not_fit_the_scene_answer_400(scene):
    preview.remember_scene("5", scene)
    status, body = preview.handle_preview({"node_id": "5", "edits": [{"op": "remove", "blob": 99}]})
    assert status == 400 and body["field"] == "edits"
    assert "no blob with id 99" in body["error"]
    status, body = preview.handle_preview({"node_id": "5", "edits": [], "extra": 1})
    assert status == 400 and body["field"] == "extra"


def test_a_request_overtaken_while_waiting_answers_409(scene):
    preview.remember_scene("5", scene)
    results = {}

    def run(name):
        results[name] = preview.handle_preview({"node_id": "5", "edits": MOVE})

    lock = preview._lock_for(scene.model)
    with lock:  # the model is busy: both requests queue behind it
        first = threading.Thread(target=run, args=("first",))
        first.start()
        _wait_for(lambda: preview._latest_request.get("5") is not None and first.is_alive())
        ticket = preview._latest_request["5"]
        second = threading.Thread(target=run, args=("second",))
        second.start()
        _wait_for(lambda: preview._latest_request["5"] != ticket)
    first.join(30)
    second.join(30)
    assert results["first"][0] == 409, "the older request rendered although a newer one waited"
    assert results["second"][0] == 200


def _wait_for(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        time.sleep(0.005)


def test_register_routes_outside_comfyui_does_nothing():
    assert preview.register_routes() is False


# -- a real aiohttp server on loopback --------------------------------------------------------------

def test_the_route_over_http(scene):
    aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is not installed (it comes with ComfyUI)")
    from aiohttp import web

    preview.remember_scene("5", scene)

    async def main():
        runner = web.AppRunner(preview.make_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}{preview.ROUTE}"
        out = {}
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(url, json={"node_id": "5", "edits": MOVE, "format": "jpeg"}) as r:
                    out["ok"] = (r.status, await r.json())
                async with http.post(url, json={"node_id": "6", "edits": []}) as r:
                    out["missing"] = (r.status, await r.json())
                async with http.post(url, data=b'{"node_id": "5", "edits": [], "max_side": NaN}',
                                     headers={"Content-Type": "application/json"}) as r:
                    out["nan"] = (r.status, await r.json())
                async with http.post(url, data=json.dumps({"node_id": "5", "edits": []}),
                                     headers={"Content-Type": "text/plain"}) as r:
                    out["text"] = (r.status, await r.json())
                big = json.dumps({"node_id": "5", "edits": " " * (preview.MAX_BODY_BYTES + 10)})
                async with http.post(url, data=big, headers={"Content-Type": "application/json"}) as r:
                    out["big"] = (r.status, await r.json())
        finally:
            await runner.cleanup()
        return out

    out = asyncio.run(main())
    status, body = out["ok"]
    assert status == 200 and body["image"].startswith("data:image/jpeg;base64,")
    assert decode(body).shape == (32, 32, 3)
    assert out["missing"][0] == 404
    assert out["nan"][0] == 400 and "not valid JSON" in out["nan"][1]["error"]
    assert out["text"][0] == 415
    assert out["big"][0] == 413
