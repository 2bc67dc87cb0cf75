"""End to end against a real ComfyUI server: the pack imports, its nodes are in /object_info, and the API
form of every example workflow runs with its images in /history and /view.

Which server: $BLOBGAN_COMFYUI_URL if set; else the one ``shared/tools/comfyui-env.sh start`` left running
(its pid and port files); else, when the environment exists (``comfyui-env.sh setup`` was run), this test
starts one on port 18188 and stops it afterwards. Without any of these the tests are skipped.

The server must see a models/blobgan folder we can write to ($BLOBGAN_COMFYUI_MODELS, else the env's
ComfyUI/models/blobgan): a tiny test model is put there, and the examples run on it in place of the
embedded default while that file is absent. Workflows that need a diffusion checkpoint run only when
the server lists the checkpoint they name.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from io import BytesIO
from pathlib import Path

import pytest
from pack_fixtures import EXAMPLES, ROOT, TINY10, TINY_NAME, write_tiny_checkpoint
from PIL import Image

from blobgan_core.loading import DEFAULT_MODEL_PATH
from nodes.runner import ui_to_prompt, widget_names

ENV_HOME = Path(os.environ.get("BLOBGAN_COMFY_HOME", Path.home() / ".cache" / "blobgan-comfyui"))
ENV_SCRIPT = Path(os.environ.get("BLOBGAN_COMFYUI_ENV_SH", ROOT.parent / "shared" / "tools" / "comfyui-env.sh"))
OWN_PORT = 18188
DEFAULT_CHOICE = "default (embedded)"
RUN_TIMEOUT = 300
SLOW_NAME = "blobgan_test_128px.safetensors"  # renders slowly enough (~60 ms a scene) to press Cancel mid-way


def _get(url: str, timeout: float = 30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def _alive(url: str) -> bool:
    try:
        _get(url + "/system_stats", timeout=3)
        return True
    except (urllib.error.URLError, OSError):
        return False


def _running_env_server() -> str | None:
    pid_file, port_file = ENV_HOME / "server.pid", ENV_HOME / "server.port"
    if not (pid_file.is_file() and port_file.is_file()):
        return None
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return None
    url = f"http://127.0.0.1:{port_file.read_text().strip()}"
    return url if _alive(url) else None


@pytest.fixture(scope="module")
def server():
    """(base URL, models/blobgan folder, log file or None) of a ComfyUI with this pack loaded."""
    url = os.environ.get("BLOBGAN_COMFYUI_URL", "").rstrip("/") or None
    started, log = False, None
    if url is None:
        url = _running_env_server()
        log = ENV_HOME / "comfyui.log" if url else None
    if url is None:
        if not (ENV_HOME / "ComfyUI" / "main.py").is_file() or not ENV_SCRIPT.is_file():
            pytest.skip(f"no ComfyUI: set BLOBGAN_COMFYUI_URL to a running server, or set one up with "
                        f"`{ENV_SCRIPT} setup <ComfyUI source>` (looked in {ENV_HOME})")
        done = subprocess.run(["bash", str(ENV_SCRIPT), "start", str(OWN_PORT)], cwd=ROOT, capture_output=True,
                              text=True, timeout=200)
        if done.returncode != 0:
            pytest.fail(f"comfyui-env.sh start failed: {done.stdout}{done.stderr}")
        url, started, log = f"http://127.0.0.1:{OWN_PORT}", True, ENV_HOME / "comfyui.log"
    elif not _alive(url):
        pytest.skip(f"no ComfyUI answers at {url}")
    models = Path(os.environ.get("BLOBGAN_COMFYUI_MODELS", ENV_HOME / "ComfyUI" / "models" / "blobgan"))
    models.mkdir(parents=True, exist_ok=True)
    write_tiny_checkpoint(models / TINY_NAME)
    write_tiny_checkpoint(models / SLOW_NAME, dataclasses.replace(TINY10, resolution=128))
    try:
        yield url, models, log
    finally:
        (models / TINY_NAME).unlink(missing_ok=True)
        (models / SLOW_NAME).unlink(missing_ok=True)
        if started:
            subprocess.run(["bash", str(ENV_SCRIPT), "stop"], cwd=ROOT, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def object_info(server):
    return json.loads(_get(server[0] + "/object_info"))


def post_prompt(url: str, prompt: dict) -> tuple[int, dict]:
    body = json.dumps({"prompt": prompt, "client_id": str(uuid.uuid4())}).encode()
    request = urllib.request.Request(url + "/prompt", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_for_history(url: str, prompt_id: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        history = json.loads(_get(f"{url}/history/{prompt_id}"))
        if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
            entry = history[prompt_id]
            if entry["status"].get("status_str") in ("success", "error"):
                return entry
        time.sleep(0.5)
    raise AssertionError(f"prompt {prompt_id} did not finish in {RUN_TIMEOUT} s")


def api_form(workflow: dict, object_info: dict) -> dict:
    """The API prompt of a UI workflow, with widget names from the server's /object_info (as the
    frontend builds it), so core nodes convert too."""
    classes = {}
    for name, info in object_info.items():
        spec = {section: {n: tuple(v) for n, v in info["input"].get(section, {}).items()}
                for section in ("required", "optional")}
        classes[name] = type(name, (), {"INPUT_TYPES": classmethod(lambda cls, s=spec: s)})
    missing = sorted({n["type"] for n in workflow["nodes"]} - set(classes) - {"Note", "MarkdownNote", "Reroute"})
    assert not missing, f"node types unknown to this ComfyUI: {missing}"
    return ui_to_prompt(workflow, classes)


def fetch_image(url: str, entry: dict) -> Image.Image:
    query = urllib.parse.urlencode({k: entry[k] for k in ("filename", "subfolder", "type")})
    return Image.open(BytesIO(_get(f"{url}/view?{query}")))


class EventSocket:
    """The smallest websocket client that reads ComfyUI's /ws messages (text frames as JSON; binary
    preview frames skipped), so this test needs nothing beyond the standard library."""

    def __init__(self, url: str, client_id: str):
        host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port or 80
        self.sock = socket.create_connection((host, port), timeout=RUN_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws?clientId={client_id} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "ComfyUI closed the websocket"
            data += chunk
        return data

    def next_event(self) -> dict:
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exact(8), "big")
            payload = self._exact(n)
            if b0 & 0x0F == 0x1:  # text frame; binary previews and pings are skipped
                return json.loads(payload)

    def close(self):
        self.sock.close()


# -- tests -------------------------------------------------------------------------------------------

def test_pack_imports_and_registers_its_nodes(server, object_info):
    ours = {k: v for k, v in object_info.items() if k.startswith("BlobGAN")}
    assert {"BlobGANLoader", "BlobGANSampleBlobs", "BlobGANEditBlob", "BlobGANRenderScene",
            "BlobGANBlobMasks"} <= set(ours)
    for info in ours.values():
        assert info["category"] == "BlobGAN" and info["description"]
        assert len(info.get("output_tooltips", [])) == len(info["output"])
    loader_choices = object_info["BlobGANLoader"]["input"]["required"]["model_name"][0]
    assert loader_choices[0] == DEFAULT_CHOICE and TINY_NAME in loader_choices
    log = server[2]
    if log is not None and log.is_file():  # a server of comfyui-env.sh: its import log is ours to read
        failures = [line for line in log.read_text(errors="replace").splitlines()
                    if ("IMPORT FAILED" in line or "Cannot import" in line) and f"custom_nodes/{ROOT.name}" in line]
        assert not failures, failures


def test_widget_order_agrees_with_the_server(object_info):
    """Our runner's widget order (used for the UI format) is the one the server declares."""
    from pack_fixtures import pack

    for node_id, cls in pack().NODE_CLASS_MAPPINGS.items():
        if node_id not in object_info:  # a node added to the checkout after this server started
            continue
        served = object_info[node_id]["input_order"]
        order = served.get("required", []) + served.get("optional", [])
        ours = [n for n in widget_names(cls) if n is not None]
        assert ours == [n for n in order if n in ours], node_id


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_example_workflow_runs(server, object_info, name):
    url = server[0]
    workflow = json.loads((EXAMPLES / name).read_text())
    prompt = api_form(workflow, object_info)
    for node in prompt.values():
        if node["class_type"] == "BlobGANLoader" and not DEFAULT_MODEL_PATH.is_file():
            node["inputs"]["model_name"] = TINY_NAME  # the embedded default is not there yet
        if node["class_type"] == "CheckpointLoaderSimple":
            wanted = node["inputs"]["ckpt_name"]
            if wanted not in object_info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]:
                pytest.skip(f"{name} needs the diffusion checkpoint {wanted!r} in models/checkpoints")
    status, answer = post_prompt(url, prompt)
    assert status == 200 and answer.get("node_errors") == {}, answer
    entry = wait_for_history(url, answer["prompt_id"])
    assert entry["status"]["status_str"] == "success", entry["status"]["messages"][-1:]
    outputs = entry["outputs"]
    render_ids = [k for k, v in prompt.items() if v["class_type"] == "BlobGANRenderScene"]
    save_ids = [k for k, v in prompt.items() if v["class_type"] == "SaveImage"]
    assert (render_ids or save_ids) and set(render_ids + save_ids) <= set(outputs)
    for node_id in render_ids:
        images = outputs[node_id]["images"]
        assert len(images) == 2 and all(i["type"] == "temp" for i in images)  # render + blob map
        for i in images:
            picture = fetch_image(url, i)
            assert picture.size[0] == picture.size[1] >= 32
    for node_id in save_ids:
        images = outputs[node_id]["images"]
        # one image, or one per frame (Animate Scenes -> Save Image in blobgan_animate.json)
        source = prompt[str(prompt[node_id]["inputs"]["images"][0])]
        frames = source["inputs"]["frames"] if source["class_type"] == "BlobGANAnimateScenes" else 1
        assert [i["type"] for i in images] == ["output"] * frames
        assert fetch_image(url, images[0]).size[0] >= 32


def test_a_bad_edit_list_fails_with_the_node_and_input_named(server, object_info):
    url = server[0]
    prompt = api_form(json.loads((EXAMPLES / "blobgan_edit.json").read_text()), object_info)
    for node in prompt.values():
        if node["class_type"] == "BlobGANLoader":
            node["inputs"]["model_name"] = TINY_NAME
        if node["class_type"] == "BlobGANEditBlob":
            node["inputs"]["edits"] = '[{"op": "move", "blob": 77, "dx": 0.1, "dy": 0}]'
    status, answer = post_prompt(url, prompt)
    assert status == 200, answer
    entry = wait_for_history(url, answer["prompt_id"])
    assert entry["status"]["status_str"] == "error"
    error = dict(entry["status"]["messages"])["execution_error"]
    assert error["node_type"] == "BlobGANEditBlob"
    assert error["exception_message"].startswith("Edit Blob (edits): edit #0 (move): no blob with id 77")


def test_validation_rejects_a_model_that_is_not_listed(server, object_info):
    url = server[0]
    prompt = api_form(json.loads((EXAMPLES / "blobgan_generate.json").read_text()), object_info)
    loader = next(k for k, v in prompt.items() if v["class_type"] == "BlobGANLoader")
    prompt[loader]["inputs"]["model_name"] = "not_there.safetensors"
    status, answer = post_prompt(url, prompt)
    assert status == 400 and loader in answer["node_errors"]


def test_render_reports_progress_and_honours_cancel(server):
    """Render Scene steps a ComfyUI progress bar per chunk of scenes; Cancel (POST /interrupt) stops it."""
    url = server[0]

    def prompt(batch):
        return {"1": {"class_type": "BlobGANLoader", "inputs": {"model_name": SLOW_NAME, "device": "auto",
                                                               "dtype": "auto"}},
                "2": {"class_type": "BlobGANSampleBlobs", "inputs": {"model": ["1", 0], "seed": 5, "truncation": 0.4,
                                                                    "batch_size": batch}},
                "3": {"class_type": "BlobGANRenderScene", "inputs": {"scene": ["2", 0], "labels": False}}}

    client_id = str(uuid.uuid4())
    events = EventSocket(url, client_id)
    try:
        def run(batch, cancel_at=None):
            body = json.dumps({"prompt": prompt(batch), "client_id": client_id}).encode()
            request = urllib.request.Request(url + "/prompt", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as r:
                prompt_id = json.loads(r.read())["prompt_id"]
            progress = []
            while True:
                e = events.next_event()
                data = e.get("data", {})
                if data.get("prompt_id") not in (None, prompt_id):
                    continue
                if e["type"] == "progress" and data.get("node") == "3":
                    progress.append((data["value"], data["max"]))
                    if cancel_at is not None and data["value"] == cancel_at:
                        urllib.request.urlopen(urllib.request.Request(url + "/interrupt", data=b"{}"), timeout=30)
                if e["type"] in ("execution_success", "execution_interrupted", "execution_error"):
                    return e, progress

        done, progress = run(8)  # 2 chunks of 4 scenes + the blob map
        assert done["type"] == "execution_success" and progress == [(1, 3), (2, 3), (3, 3)]
        stopped, progress = run(64, cancel_at=1)  # 16 chunks + the blob map
        assert stopped["type"] == "execution_interrupted", stopped
        assert stopped["data"]["node_type"] == "BlobGANRenderScene"
        assert progress[0] == (1, 17) and len(progress) < 17
    finally:
        events.close()


def test_the_model_survives_comfyui_unloading_it(server, object_info):
    """POST /free unloads every model ComfyUI manages (ours included); the next run loads it again."""
    url = server[0]
    prompt = api_form(json.loads((EXAMPLES / "blobgan_generate.json").read_text()), object_info)
    for node in prompt.values():
        if node["class_type"] == "BlobGANLoader":
            node["inputs"]["model_name"] = TINY_NAME
    for seed in (1, 2):
        for node in prompt.values():
            if node["class_type"] == "BlobGANSampleBlobs":
                node["inputs"]["seed"] = seed
        status, answer = post_prompt(url, prompt)
        assert status == 200, answer
        assert wait_for_history(url, answer["prompt_id"])["status"]["status_str"] == "success"
        free = urllib.request.Request(url + "/free", data=json.dumps({"unload_models": True}).encode(),
                                      headers={"Content-Type": "application/json"})
        urllib.request.urlopen(free, timeout=30)
