"""The preview route reads whole bodies however they arrive (issue: ``content.read(n)`` returned only what
had arrived), answers 413 for too large in every form and 400 naming the problem for malformed ones, and
keeps answering. A real aiohttp server on loopback, a raw socket for the framings a client library would
not send, and a seeded, bounded fuzz of bodies, sizes and chunkings."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time

import pytest
from conftest import random_model

from blobgan_core.scene import Scene
from nodes import preview

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is not installed (it comes with ComfyUI)")
from aiohttp import web  # noqa: E402

FUZZ_SECONDS = 8  # CI budget; a longer run: BLOBGAN_FUZZ_SECONDS=600 pytest tests/test_route_bodies.py


@pytest.fixture(scope="module")
def server():
    """The route on 127.0.0.1 in a thread of its own, with a remembered scene for node "5"."""
    model = random_model()
    preview.remember_scene("5", Scene(model, model.sample_layout(seed=5), noise_seed=5))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    async def start():
        runner = web.AppRunner(preview.make_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"], holder["port"] = runner, site._server.sockets[0].getsockname()[1]
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(10)
    yield holder["port"]
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    preview.forget_scenes()


def raw_post(port: int, body: bytes, *, pieces: list[int] | None = None, chunked: bool = False,
             pause: float = 0.0, content_length: int | None = None) -> tuple[int, dict]:
    """POST ``body`` over a plain socket, split into ``pieces`` (byte counts) with ``pause`` between them,
    as one Content-Length body or as HTTP chunks; returns (status, decoded JSON answer)."""
    head = [f"POST {preview.ROUTE} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            "Connection: close"]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    else:
        head.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    parts, at = [], 0
    for n in pieces or [len(body)]:
        parts.append(body[at:at + n])
        at += n
    if at < len(body):
        parts.append(body[at:])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for part in parts:
            if not part:
                continue
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if pause:
                time.sleep(pause)
        if chunked:
            s.sendall(b"0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    header, _, payload = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"chunked" in header.lower():  # the answer itself may come chunked
        out, rest = b"", payload
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        payload = out
    return status, json.loads(payload)


def big_valid_body(n_edits: int) -> bytes:
    edits = [{"op": "move", "blob": i % 4, "dx": 1e-4, "dy": -1e-4} for i in range(n_edits)]
    return json.dumps({"node_id": "5", "edits": edits, "format": "jpeg"}).encode()


def test_a_large_valid_body_arriving_in_pieces_is_read_whole(server):
    body = big_valid_body(preview.MAX_EDITS)  # the documented maximum, about 300 kB
    assert 200_000 < len(body) < preview.MAX_BODY_BYTES
    status, answer = raw_post(server, body, pieces=[1000, 50_000, 70_000], pause=0.05)
    assert status == 200, answer
    assert answer["image"].startswith("data:image/jpeg;base64,")


def test_a_small_valid_body_sent_byte_by_byte_in_chunks(server):
    body = json.dumps({"node_id": "5", "edits": []}).encode()
    status, answer = raw_post(server, body, pieces=[1] * len(body), chunked=True, pause=0.002)
    assert status == 200, answer


@pytest.mark.parametrize("chunked", [False, True])
def test_too_large_is_413_however_it_is_framed(server, chunked):
    body = json.dumps({"node_id": "5", "edits": " " * preview.MAX_BODY_BYTES}).encode()
    status, answer = raw_post(server, body, pieces=[100_000] * 11, chunked=chunked)
    assert status == 413 and str(preview.MAX_BODY_BYTES) in answer["error"]


def test_a_declared_length_over_the_limit_is_413_before_reading(server):
    status, _ = raw_post(server, b"{}", content_length=preview.MAX_BODY_BYTES + 1)
    assert status == 413


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"node_id": "5", "edits": ' + b"[" * 50 + b"]" * 50 + b"}",
                                  b'{"node_id": "5", "edits": "' + b"[" * 5000 + b'"}'])
def test_deep_nesting_is_a_json_400_naming_the_problem(server, body):
    status, answer = raw_post(server, body)
    assert status == 400
    assert "nest" in answer["error"] or "edit" in answer["error"]


def test_fuzzed_bodies_sizes_and_chunkings(server):
    """Seeded and bounded in time. Every answer is JSON with a known status, an error names the problem,
    and the server still renders a good request afterwards."""
    rng = random.Random(1234)
    import os

    deadline = time.monotonic() + float(os.environ.get("BLOBGAN_FUZZ_SECONDS", FUZZ_SECONDS))
    good = {"node_id": "5", "edits": [{"op": "move", "blob": 1, "dx": 0.1, "dy": 0}]}
    values = [None, True, 0, -1, 1e308, -1e308, 2 ** 70, "", "5", "a" * 300, "../../etc/passwd", [], {}, [[[]]],
              "NaN", 1.5, "[]", "[{\"op\": \"move\"}]", {"op": "move"}, "\u0000", "\ud7ff"]
    count = 0
    while time.monotonic() < deadline:
        count += 1
        payload = dict(good)
        for _ in range(rng.randint(0, 3)):
            field = rng.choice([*preview.FIELDS, "file", "path", "__proto__"])
            payload[field] = rng.choice(values)
        if rng.random() < 0.3 and isinstance(payload.get("edits"), list):
            payload["edits"] = [{"op": rng.choice(["move", "resize", "reshape", "rotate", "remove", "?"]),
                                 "blob": rng.choice([0, 1, 3, 99, -1, "1"]),
                                 rng.choice(["dx", "dy", "scale", "aspect", "degrees"]): rng.choice(values)}
                                for _ in range(rng.randint(1, 5))]
        body = json.dumps(payload).encode()
        if rng.random() < 0.2:  # damage the bytes
            cut = rng.randrange(len(body))
            body = body[:cut] + bytes([rng.randrange(256)]) + body[cut + 1:]
        n_pieces = rng.randint(1, 6)
        cuts = sorted(rng.randrange(len(body) + 1) for _ in range(n_pieces - 1))
        pieces = [b - a for a, b in zip([0, *cuts], [*cuts, len(body)])]
        status, answer = raw_post(server, body, pieces=pieces, chunked=rng.random() < 0.5)
        assert status in (200, 400, 404, 413), (status, answer, body[:200])
        if status != 200:
            assert answer["error"], body[:200]
    assert count > 5
    status, _ = raw_post(server, json.dumps(good).encode())
    assert status == 200
