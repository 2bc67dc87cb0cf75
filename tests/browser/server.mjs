// A tiny HTTP server for the widget's browser tests, on 127.0.0.1 only: it serves the repo's web/
// folder at /web/, the test page at /page/, and a fake POST /blobgan/preview that answers like the real
// route (nodes/preview.py) with a solid-colour PNG whose colour depends on the edit list, after a delay,
// so throttling and aborts can be observed. Node id "404" answers 404 as for a node that never ran.
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOTS = { "/web/": path.resolve(HERE, "../../web"), "/page/": path.join(HERE, "page") };
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".html": "text/html", ".json": "application/json" };

/**
 * Start the server on a free loopback port.
 * @param {{delayMs?: number}} [opts] delay of each preview answer (default 60 ms)
 * @returns {Promise<{url: string, requests: object[], setDelay: (ms: number) => void, close: () => Promise<void>}>}
 */
export async function startServer({ delayMs = 60 } = {}) {
    let delay = delayMs;
    const requests = [];
    const scene = JSON.parse(await readFile(path.join(HERE, "page", "scene.json"), "utf8"));
    const server = http.createServer(async (req, res) => {
        try {
            if (req.method === "POST" && req.url === "/blobgan/preview") {
                await fakePreview(req, res, requests, delay, scene);
                return;
            }
            await serveFile(req, res);
        } catch (err) {
            res.writeHead(500, { "Content-Type": "text/plain" });
            res.end(String(err?.stack ?? err));
        }
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address();
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        setDelay: (ms) => { delay = ms; },
        close: () => new Promise((resolve) => {
            server.closeAllConnections?.();
            server.close(() => resolve());
        }),
    };
}

async function serveFile(req, res) {
    const url = new URL(req.url, "http://x");
    const prefix = Object.keys(ROOTS).find((p) => url.pathname.startsWith(p));
    if (!prefix) return notFound(res);
    const root = ROOTS[prefix];
    const file = path.resolve(root, "." + decodeURIComponent(url.pathname.slice(prefix.length - 1)));
    if (!file.startsWith(root + path.sep)) return notFound(res);
    try {
        const body = await readFile(file);
        res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
        res.end(body);
    } catch {
        notFound(res);
    }
}

function notFound(res) {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found");
}

async function fakePreview(req, res, requests, delay, scene) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const record = { body, aborted: false, at: Date.now(), answered: false };
    requests.push(record);
    req.on("close", () => { if (!record.answered) record.aborted = true; });
    res.on("close", () => { if (!res.writableFinished) record.aborted = true; });
    const json = (status, data) => {
        record.answered = true;
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(data));
    };
    if (req.headers["content-type"] !== "application/json") return json(415, { error: "send JSON", field: null });
    if (body.node_id === "404") {
        return json(404, { error: "no scene for node 404 yet: queue the workflow once to enable live preview", field: "node_id" });
    }
    if (!Array.isArray(body.edits)) return json(400, { error: "'edits' must be a list", field: "edits" });
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (record.aborted) return;
    const png = solidPng(16, 16, colourOf(JSON.stringify(body.edits)));
    json(200, {
        image: `data:image/png;base64,${png.toString("base64")}`, format: "png", width: 16, height: 16,
        scene, render_ms: delay,
    });
}

/** A colour that changes with the edit list ([] gives mid grey). */
function colourOf(text) {
    if (text === "[]") return [128, 128, 128];
    let h = 2166136261;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
    return [h & 255, (h >> 8) & 255, (h >> 16) & 255];
}

/** A w x h RGB PNG of one colour (zlib from node, CRC-32 by hand). */
function solidPng(w, h, [r, g, b]) {
    const row = Buffer.alloc(1 + 3 * w);
    for (let x = 0; x < w; x++) row.set([r, g, b], 1 + 3 * x);
    const raw = Buffer.concat(Array.from({ length: h }, () => row));
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0)),
    ]);
}

function chunk(type, data) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
});

function crc32(buf) {
    let c = 0xffffffff;
    for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}
