// The blob editor canvas in headless Chromium: real pointer, wheel and key input on the test page
// (page/), checked through the hidden-widget stand-ins and the fake preview route (server.mjs).
// Run: node --test tests/browser/   (needs /usr/bin/chromium and `npm install` in tests/browser;
// without them every test is skipped with the reason).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { startServer } from "./server.mjs";

const CHROMIUM = [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && existsSync(p));
let playwright = null;
try {
    playwright = await import("playwright-core");
} catch {
    playwright = null;
}
const skip = !CHROMIUM ? "no Chromium (install Debian's chromium, or set CHROMIUM=/path/to/chromium)"
    : !playwright ? "playwright-core is not installed (cd tests/browser && npm install)" : false;
if (skip) console.log(`browser tests skipped: ${skip}`);

describe("blob editor widget in Chromium", { skip }, () => {
    let server, browser, page;
    const pageErrors = [];

    before(async () => {
        server = await startServer({ delayMs: 60 });
        browser = await playwright.chromium.launch({
            executablePath: CHROMIUM,
            headless: true,
            args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
        });
        page = await browser.newPage({ viewport: { width: 1280, height: 520 } });
        page.on("pageerror", (err) => pageErrors.push(String(err)));
        page.on("console", (msg) => {
            // The 404 editor's request is expected to fail; anything else is a bug.
            if (msg.type() === "error" && !/status of 404/.test(msg.text())) pageErrors.push(msg.text());
        });
        await page.goto(`${server.url}/page/index.html`);
        await page.waitForFunction(() => window.harness?.ready === true);
    });

    after(async () => {
        await browser?.close();
        await server?.close();
    });

    // -- helpers ------------------------------------------------------------------------------------

    const edits = async () => JSON.parse(await page.evaluate(() => window.harness.widgets.edits.value));
    const blobPoint = (id, where = "center") =>
        page.evaluate(([i, w]) => window.harness.blobs.tool.blobClientPoint(i, w), [id, where]);
    const resetBlobs = () => page.evaluate(() => {
        const h = window.harness;
        h.blobs.tool.setEditsText("[]");
        h.widgets.edits.value = "[]";
        h.blobs.tool.select([]);
        if (h.blobs.tool.showHidden) h.blobs.tool.toggleHidden();
        h.leaked.length = 0;
    });
    async function drag(from, to, { steps = 12, shift = false } = {}) {
        if (shift) await page.keyboard.down("Shift");
        await page.mouse.move(from.x, from.y);
        await page.mouse.down();
        await page.mouse.move(to.x, to.y, { steps });
        await page.mouse.up();
        if (shift) await page.keyboard.up("Shift");
    }
    const MODIFIERS = ["Control", "Shift", "Alt", "Meta"];
    const leakedKeys = () => page.evaluate((mods) => window.harness.leaked.filter((e) => e.type === "keydown" && !mods.includes(e.key)),
        MODIFIERS);
    const settle = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

    // -- tests --------------------------------------------------------------------------------------

    test("draws the image and the blobs", async () => {
        await settle();
        // Sample the canvas at blob 2's centre: the overlay tints it blue-ish over the grey-beige image.
        const probe = await page.evaluate(() => {
            const { blobs } = window.harness;
            const c = blobs.canvas;
            const b = c.getBoundingClientRect();
            const p = blobs.tool.blobClientPoint(2);
            const x = Math.round(((p.x - b.left) * c.width) / b.width), y = Math.round(((p.y - b.top) * c.height) / b.height);
            blobs.drawNow();
            return { pixel: [...c.getContext("2d").getImageData(x, y, 1, 1).data], size: [c.width, c.height] };
        });
        assert.ok(probe.size[0] > 100 && probe.size[1] > 100, `canvas size ${probe.size}`);
        assert.equal(probe.pixel[3], 255);
        assert.deepEqual(pageErrors, []);
    });

    test("dragging a blob writes one move edit and previews it", async () => {
        await resetBlobs();
        const before = server.requests.length;
        const from = await blobPoint(2);
        await drag(from, { x: from.x + 40, y: from.y - 20 }, { steps: 20 });
        const list = await edits();
        assert.equal(list.length, 1);
        assert.equal(list[0].op, "move");
        assert.equal(list[0].blob, 2);
        // 40 CSS px on an image drawn (400 - 2*4) px wide: about 0.102 image widths.
        const widthCss = await page.evaluate(() => {
            const { blobs } = window.harness;
            return blobs.imageRect().width / blobs.pxRatio;
        });
        assert.ok(Math.abs(list[0].dx - 40 / widthCss) < 0.004, `dx ${list[0].dx}`);
        assert.ok(Math.abs(list[0].dy + 20 / widthCss) < 0.004, `dy ${list[0].dy}`);
        // The blob now sits under the pointer.
        const now = await blobPoint(2);
        assert.ok(Math.hypot(now.x - from.x - 40, now.y - from.y + 20) < 1.5);
        // Throttled: fewer requests than pointer moves, the last one carries the final list, and its
        // image is what the canvas shows.
        await page.waitForFunction(() => window.harness.blobs.previewKey === JSON.stringify(JSON.parse(window.harness.blobs.tool.editsText)));
        const sent = server.requests.slice(before);
        assert.ok(sent.length >= 1 && sent.length < 20, `${sent.length} preview requests for 20 moves`);
        assert.deepEqual(sent.at(-1).body.edits, list);
        assert.equal(sent.at(-1).body.node_id, "7");
        const leaked = await page.evaluate(() => window.harness.leaked.filter((e) => e.type !== "pointermove"));
        assert.deepEqual(leaked, [], "pointer events reached the graph under the editor");
    });

    test("a newer preview aborts the one in flight", async () => {
        await resetBlobs();
        server.setDelay(250);
        try {
            const before = server.requests.length;
            const from = await blobPoint(0);
            await page.mouse.move(from.x, from.y);
            await page.mouse.down();
            for (let i = 1; i <= 6; i++) {
                await page.mouse.move(from.x + 6 * i, from.y);
                await page.waitForTimeout(110);
            }
            await page.mouse.up();
            await page.waitForFunction(() => window.harness.blobs.previewKey === JSON.stringify(JSON.parse(window.harness.blobs.tool.editsText)),
                null, { timeout: 5000 });
            const sent = server.requests.slice(before);
            const stats = await page.evaluate(() => window.harness.blobs.preview.stats);
            assert.ok(stats.aborted >= 1, `aborted ${stats.aborted} of ${sent.length}`);
            assert.ok(sent.some((r) => r.aborted), "the server saw no aborted request");
            assert.deepEqual(sent.at(-1).body.edits, await edits());
        } finally {
            server.setDelay(60);
        }
    });

    test("undo and redo with Ctrl+Z, Ctrl+Shift+Z and Ctrl+Y", async () => {
        await resetBlobs();
        const from = await blobPoint(1);
        await drag(from, { x: from.x - 30, y: from.y + 10 });
        const moved = await edits();
        assert.equal(moved.length, 1);
        await page.keyboard.press("Control+z");
        assert.deepEqual(await edits(), []);
        await page.keyboard.press("Control+Shift+z");
        assert.deepEqual(await edits(), moved);
        await page.keyboard.press("Control+z");
        await page.keyboard.press("Control+y");
        assert.deepEqual(await edits(), moved);
        assert.deepEqual(await leakedKeys(), [], "handled keys reached the page");
    });

    test("shift-click adds to the selection and a drag moves every selected blob", async () => {
        await resetBlobs();
        await page.mouse.click(...Object.values(await blobPoint(0)));
        await page.keyboard.down("Shift");
        await page.mouse.click(...Object.values(await blobPoint(4)));
        await page.keyboard.up("Shift");
        assert.deepEqual(await page.evaluate(() => window.harness.blobs.tool.selectedIds), [0, 4]);
        const from = await blobPoint(4);
        await drag(from, { x: from.x - 25, y: from.y - 25 });
        const list = await edits();
        assert.deepEqual(list.map((e) => [e.op, e.blob]), [["move", 0], ["move", 4]]);
        assert.equal(list[0].dx, list[1].dx);
    });

    test("keys: Delete removes, Ctrl+D duplicates, ] and [ change depth, arrows nudge", async () => {
        await resetBlobs();
        await page.mouse.click(...Object.values(await blobPoint(1)));
        await page.keyboard.press("Control+d");
        let list = await edits();
        assert.deepEqual(list.at(-1), { op: "duplicate", blob: 1, dx: 0.04, dy: 0.04 });
        // The copy (id 5, the next free id) is selected now.
        assert.deepEqual(await page.evaluate(() => window.harness.blobs.tool.selectedIds), [5]);
        await page.keyboard.press("[");
        await page.keyboard.press("PageUp");
        await page.keyboard.press("ArrowRight");
        await page.keyboard.press("Delete");
        list = await edits();
        assert.deepEqual(list.slice(1).map((e) => e.op), ["backward", "forward", "move", "remove"]);
        assert.ok(list.slice(1).every((e) => e.blob === 5));
        assert.ok(Math.abs(list[3].dx - 1 / 256) < 1e-5, "arrow nudges by one image pixel");
        assert.deepEqual(await leakedKeys(), []);
    });

    test("the wheel resizes the blob under the pointer, one undo step per burst", async () => {
        await resetBlobs();
        const p = await blobPoint(2);
        await page.mouse.move(p.x, p.y);
        for (let i = 0; i < 3; i++) await page.mouse.wheel(0, -100);
        await page.waitForTimeout(600); // the burst ends
        const list = await edits();
        assert.equal(list.length, 1);
        assert.equal(list[0].op, "resize");
        assert.ok(list[0].scale > 1.3, `scale ${list[0].scale}`);
        await page.keyboard.press("Control+z");
        assert.deepEqual(await edits(), []);
        // Over empty image the wheel is left to the graph (zoom).
        const emptyBefore = await page.evaluate(() => window.harness.leaked.filter((e) => e.type === "wheel").length);
        const corner = await page.evaluate(() => window.harness.blobs.canvasToClient({ x: 8, y: 8 }));
        await page.mouse.move(corner.x, corner.y);
        await page.mouse.wheel(0, 100);
        const emptyAfter = await page.evaluate(() => window.harness.leaked.filter((e) => e.type === "wheel").length);
        assert.equal(emptyAfter, emptyBefore + 1);
    });

    test("handles resize, reshape and rotate the selected blob", async () => {
        await resetBlobs();
        await page.mouse.click(...Object.values(await blobPoint(2)));
        // Blob 2's major axis is horizontal: the resize handle sits on its right end.
        const c = await blobPoint(2);
        let h = await blobPoint(2, "resize");
        await drag(h, { x: c.x + (h.x - c.x) * 1.5, y: h.y });
        let list = await edits();
        assert.equal(list.at(-1).op, "resize");
        assert.ok(Math.abs(list.at(-1).scale - 1.5) < 0.03, `scale ${list.at(-1).scale}`);

        h = await blobPoint(2, "rotate");
        // A quarter turn clockwise around the centre.
        await drag(h, { x: c.x, y: c.y + Math.hypot(h.x - c.x, h.y - c.y) });
        list = await edits();
        assert.equal(list.at(-1).op, "rotate");
        assert.ok(Math.abs(list.at(-1).degrees - 90) < 2, `degrees ${list.at(-1).degrees}`);

        h = await blobPoint(2, "aspect");
        await drag(h, { x: c.x + (h.x - c.x) * 0.7, y: c.y + (h.y - c.y) * 0.7 });
        list = await edits();
        assert.equal(list.at(-1).op, "reshape");
        assert.ok(list.at(-1).aspect > 1.5, `aspect ${list.at(-1).aspect}`);
        assert.equal(list.length, 3);
    });

    test("context menu actions, and hidden blobs revived", async () => {
        await resetBlobs();
        const p = await blobPoint(0);
        await page.mouse.click(p.x, p.y, { button: "right" });
        await page.locator(".blobgan-editor-menu [data-label='Send to back']").click();
        assert.deepEqual(await edits(), [{ op: "to_back", blob: 0 }]);
        assert.equal(await page.locator(".blobgan-editor-menu").count(), 0, "the menu closes after a pick");

        // H shows hidden blobs; blob 3 is hidden in the input.
        await page.keyboard.press("h");
        const hidden = await blobPoint(3);
        await page.mouse.click(hidden.x, hidden.y, { button: "right" });
        await page.locator(".blobgan-editor-menu [data-label='Revive']").click();
        const list = await edits();
        assert.deepEqual(list.at(-1), { op: "set_size", blob: 3, size: 2 });
        await page.keyboard.press("h");
        // Escape closes a menu without acting.
        await page.mouse.click(p.x, p.y, { button: "right" });
        await page.keyboard.press("Escape");
        assert.equal(await page.locator(".blobgan-editor-menu").count(), 0);
        assert.deepEqual(await edits(), list);
        const leaked = await page.evaluate(() => window.harness.leaked.filter((e) => e.type === "contextmenu"));
        assert.deepEqual(leaked, []);
    });

    test("R resets after confirmation (and undo brings the edits back); O toggles the overlay", async () => {
        await resetBlobs();
        const from = await blobPoint(4);
        await drag(from, { x: from.x - 20, y: from.y });
        const moved = await edits();
        await page.evaluate(() => window.harness.confirmAnswers.push(false));
        await page.keyboard.press("r");
        assert.deepEqual(await edits(), moved, "declined reset kept the edits");
        await page.keyboard.press("r");
        assert.deepEqual(await edits(), []);
        await page.keyboard.press("Control+z");
        assert.deepEqual(await edits(), moved);
        await page.keyboard.press("o");
        assert.equal(await page.evaluate(() => window.harness.blobs.showOverlay), false);
        await page.keyboard.press("o");
        assert.equal(await page.evaluate(() => window.harness.blobs.showOverlay), true);
    });

    test("a stored edit list restores the geometry (workflow load)", async () => {
        await resetBlobs();
        const text = '[{"op": "move", "blob": 1, "dx": -0.2, "dy": 0.1}]';
        const pos = await page.evaluate((t) => {
            const { blobs } = window.harness;
            blobs.tool.setEditsText(t);
            const { scene, history } = blobs.tool;
            return { x: scene.blobs[1].x, y: scene.blobs[1].y, undo: history.canUndo };
        }, text);
        assert.ok(Math.abs(pos.x - 0.5) < 1e-9 && Math.abs(pos.y - 0.4) < 1e-9);
        assert.equal(pos.undo, false, "a loaded list starts a fresh history");
        const bad = await page.evaluate(() => {
            const { blobs } = window.harness;
            const ok = blobs.tool.setEditsText('[{"op": "fly", "blob": 1}]');
            return { ok, message: blobs.message };
        });
        assert.equal(bad.ok, false);
        assert.match(bad.message, /unknown op "fly"/);
    });

    test("a node the server has not seen asks to queue the workflow", async () => {
        await page.waitForFunction(() => window.harness.missing.message !== "");
        const message = await page.evaluate(() => window.harness.missing.message);
        assert.match(message, /Queue the workflow/);
    });

    test("after a page reload the scene and image come from the route", async () => {
        const result = await page.evaluate(async () => {
            const { BlobEditorCanvas } = await import("/web/js/editor_canvas.js");
            const fresh = new BlobEditorCanvas({
                fetchPreview: (body, signal) => fetch("/blobgan/preview", {
                    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal,
                }),
                nodeId: () => "9",
            });
            document.body.appendChild(fresh.element);
            fresh.tool.setEditsText('[{"op": "remove", "blob": 0}]');
            fresh.refresh();
            for (let i = 0; i < 100 && !fresh.previewImage; i++) await new Promise((r) => setTimeout(r, 20));
            const { scene } = fresh.tool;
            const out = { blobs: scene?.blobs.length, hidden0: scene?.blobs[0].size, image: !!fresh.previewImage };
            fresh.destroy();
            return out;
        });
        assert.deepEqual(result, { blobs: 5, hidden0: -100, image: true });
    });

    test("points mode: a refresh fetches the input scene and its image with no edits", async () => {
        const before = server.requests.length;
        const result = await page.evaluate(async () => {
            const { BlobEditorCanvas } = await import("/web/js/editor_canvas.js");
            const fresh = new BlobEditorCanvas({
                mode: "points",
                fetchPreview: (body, signal) => fetch("/blobgan/preview", {
                    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal,
                }),
                nodeId: () => "10",
            });
            document.body.appendChild(fresh.element);
            fresh.refresh();
            for (let i = 0; i < 100 && !fresh.baseImage; i++) await new Promise((r) => setTimeout(r, 20));
            const out = { blobs: fresh.baseScene?.blobs.length, image: !!fresh.baseImage };
            fresh.destroy();
            return out;
        });
        assert.deepEqual(result, { blobs: 5, image: true });
        assert.deepEqual(server.requests.slice(before).map((r) => r.body), [{ node_id: "10", edits: [], format: "jpeg" }]);
    });

    test("points mode: click a handle, drag its target, remove a pair", async () => {
        const pt = (x, y) => page.evaluate(([a, b]) => window.harness.points.imageClientPoint(a, b), [x, y]);
        // Press at (64, 64) and drag to (128, 96): one handle with its target.
        await drag(await pt(64, 64), await pt(128, 96), { steps: 8 });
        // A plain click places a handle; the next click its target.
        await page.mouse.click(...Object.values(await pt(200, 200)));
        await page.mouse.click(...Object.values(await pt(180, 150)));
        const w = await page.evaluate(() => window.harness.widgets);
        assert.deepEqual(JSON.parse(w.handles.value), [{ x: 64, y: 64 }, { x: 200, y: 200 }]);
        assert.deepEqual(JSON.parse(w.targets.value), [{ x: 128, y: 96 }, { x: 180, y: 150 }]);
        // Dragging an existing target moves it.
        await drag(await pt(128, 96), await pt(140, 100), { steps: 4 });
        assert.deepEqual(JSON.parse(await page.evaluate(() => window.harness.widgets.targets.value))[0], { x: 140, y: 100 });
        // Right-click a point -> Remove pair.
        const handle = await pt(200, 200);
        await page.mouse.click(handle.x, handle.y, { button: "right" });
        await page.locator(".blobgan-editor-menu [data-label='Remove pair']").click();
        const after = await page.evaluate(() => window.harness.widgets);
        assert.deepEqual(JSON.parse(after.handles.value), [{ x: 64, y: 64 }]);
        assert.deepEqual(JSON.parse(after.targets.value), [{ x: 140, y: 100 }]);
        await page.keyboard.press("Control+z");
        assert.equal(JSON.parse(await page.evaluate(() => window.harness.widgets.handles.value)).length, 2);
        // No preview requests in points mode beyond none at all for node 8 while editing.
        assert.ok(server.requests.every((r) => r.body.node_id !== "8"));
    });

    test("no page errors", () => {
        assert.deepEqual(pageErrors, []);
    });
});
