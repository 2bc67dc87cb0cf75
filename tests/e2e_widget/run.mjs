// The blob editor widget on the Edit Blob node, in real ComfyUI with its real frontend, in headless
// Chromium:
//   1. load example_workflows/blobgan_edit.json, queue it (the Edit Blob node caches its scene and sends
//      the widget its image and blob geometry);
//   2. drag the front-most blob on the widget's canvas with real pointer input: live previews must
//      arrive from POST /blobgan/preview, the node must not move, the hidden `edits` widget, the saved
//      workflow and the prompt must carry the new move edit; Delete and Ctrl+Z must act on the blob,
//      not on the node or the graph;
//   3. queue again: the saved image must differ from the first run's;
//   4. reload the page and load the saved workflow: the widget must restore the edits, and fetch the
//      scene from the server's cache without a run.
// Screenshots and <label>_results.json go to OUT.
//
// usage: node tests/e2e_widget/run.mjs --port 8188 --out /tmp/widget_shots [--model NAME] [--label classic]
//   ComfyUI must be running with this pack (bash /work/shared/tools/comfyui-env.sh start 8188), with the
//   Vue-nodes setting set beforehand (curl -X POST localhost:8188/settings/Comfy.VueNodes.Enabled -d true|false).
//   --model: the Load BlobGAN model_name to use instead of the workflow's (a file in models/blobgan).
//   playwright-core is taken from tests/browser/node_modules (cd tests/browser && npm install).
import fs from "node:fs";
import path from "node:path";

import { Finished, openSession, reportUnmounted } from "./lib.mjs";

const s = await openSession("edit");
const { page, check, results } = s;

try {
    await s.loadWorkflow(s.readWorkflow(s.args.workflow ?? "example_workflows/blobgan_edit.json"));
    const nodeId = await s.nodeIdOfType("BlobGANEditBlob");
    const canvasOf = `window.comfyAPI.app.app.graph.getNodeById(${JSON.stringify(nodeId)}).blobganEditor.canvas`;
    const editor = (expr) => page.evaluate(`(() => { const c = ${canvasOf}; return ${expr}; })()`);

    check("extension mounted the editor", await page.evaluate((id) => !!window.comfyAPI.app.app.graph.getNodeById(id)?.blobganEditor, nodeId));
    const editsAtLoad = await s.widgetValue(nodeId, "edits");
    check("edits widget restored into the canvas",
        await editor(`JSON.stringify(c.tool.edits) === JSON.stringify(JSON.parse(${JSON.stringify(editsAtLoad)}))`));
    check("edits widget hidden", await page.evaluate((id) => window.comfyAPI.app.app.graph.getNodeById(id)
        .widgets.find((x) => x.name === "edits").hidden === true, nodeId));

    // Frontend 1.27.10's experimental Vue nodes mount no DOM widget and show no widget of this node at
    // all (not even the plain edits text, the same without this extension): only the run is checked.
    if (await reportUnmounted(page, nodeId, results)) {
        const run = await s.queueAndWait();
        check("the workflow still runs", run.status === "success", run.detail ?? "");
        await s.focusNode(nodeId);
        await s.shoot("1_not_mounted");
        throw new Finished();
    }

    // 1. First run.
    const run1 = await s.queueAndWait();
    check("first run succeeded", run1.status === "success", run1.detail ?? "");
    await page.waitForFunction(`(() => { const c = ${canvasOf}; return c.baseScene && (c.baseImage || c.previewImage); })()`,
        null, { timeout: 30000 });
    await s.focusNode(nodeId);
    const image1 = await s.outputImageHash(run1);
    check("first run saved an image", !!image1, image1 ?? "");
    await s.shoot("1_after_first_run");

    // 2. Drag the front-most visible blob whose centre is well inside the image and picks that blob
    // (by the editor's own hover test: a blob in front may cover another's centre).
    const target = await editor(`(() => {
        const order = [...c.tool.scene.order].reverse();
        const rect = c.tool.host.imageRect();
        const picks = (b) => { const x = c.tool.scene.blobs[b];
            const hover = c.tool.hoverAt({ x: rect.x0 + x.x * rect.width, y: rect.y0 + x.y * rect.height }, rect);
            return hover?.kind === "blob" && hover.id === b; };
        const inside = (b) => { const x = c.tool.scene.blobs[b];
            return x.size > 0 && x.x > 0.2 && x.x < 0.7 && x.y > 0.2 && x.y < 0.7; };
        const blobId = order.find((b) => inside(b) && picks(b)) ?? order.find((b) => c.tool.scene.blobs[b].size > 0 && picks(b))
            ?? order.find((b) => c.tool.scene.blobs[b].size > 0);
        return { blobId, point: c.tool.blobClientPoint(blobId) };
    })()`);
    const nodePosBefore = await page.evaluate((id) => [...window.comfyAPI.app.app.graph.getNodeById(id).pos], nodeId);
    const callsBefore = s.previewCalls.length;
    await editor("(c.preview.times.length = 0)");
    const { point } = target;
    await page.mouse.move(point.x, point.y);
    await page.mouse.down();
    for (let i = 1; i <= 15; i++) {
        await page.mouse.move(point.x + 4 * i, point.y + 2 * i);
        await page.waitForTimeout(40);
    }
    await s.shoot("2_mid_drag");
    await page.mouse.up();
    await page.waitForFunction(`(() => { const c = ${canvasOf}; return c.previewKey === JSON.stringify(JSON.parse(c.tool.editsText)); })()`,
        null, { timeout: 30000 }).catch(() => {});
    const afterDrag = await editor(`({ edits: c.tool.editsText, stats: c.preview.stats, roundTripMs: c.preview.roundTripMs,
        times: [...c.preview.times],
        previewFresh: c.previewKey === JSON.stringify(JSON.parse(c.tool.editsText)) })`);
    afterDrag.pos = await page.evaluate((id) => [...window.comfyAPI.app.app.graph.getNodeById(id).pos], nodeId);
    const lastEdit = JSON.parse(afterDrag.edits).at(-1);
    check("drag added a move edit", lastEdit?.op === "move" && lastEdit.blob === target.blobId, JSON.stringify(lastEdit));
    check("the node did not move", JSON.stringify(afterDrag.pos) === JSON.stringify(nodePosBefore));
    const calls = s.previewCalls.slice(callsBefore);
    check("live previews arrived", calls.some((c) => c.status === 200) && afterDrag.previewFresh,
        `${calls.length} requests (${calls.filter((c) => c.status === 200).length} x 200), stats ${JSON.stringify(afterDrag.stats)}, `
        + `round trips ${summarize(afterDrag.times)}`);
    results.previewRoundTripMs = afterDrag.times;
    results.previewRequests = calls.length;
    check("hidden widget holds the edits", (await s.widgetValue(nodeId, "edits")) === afterDrag.edits);
    await s.shoot("3_after_drag");

    // Keys act on the blob, not on the node or the graph's undo history.
    await page.keyboard.press("Delete");
    const afterDelete = await page.evaluate((id) => {
        const node = window.comfyAPI.app.app.graph.getNodeById(id);
        return node ? JSON.parse(node.blobganEditor.canvas.tool.editsText).at(-1) : null;
    }, nodeId);
    check("Delete removes the blob and keeps the node", afterDelete?.op === "remove" && afterDelete.blob === target.blobId,
        JSON.stringify(afterDelete));
    await page.keyboard.press("Control+z");
    check("Ctrl+Z undoes the removal", (await s.widgetValue(nodeId, "edits")) === afterDrag.edits);

    const saved = await s.saved(nodeId);
    check("saved workflow carries the edits", saved.widgetsValues?.[0] === afterDrag.edits && saved.widgetsValues.length === 1,
        `widgets_values has ${saved.widgetsValues?.length} entries`);
    check("queued prompt carries the edits", saved.inputs?.edits === afterDrag.edits);
    check("saved workflow changed", saved.widgetsValues?.[0] !== editsAtLoad);
    fs.writeFileSync(path.join(s.out, `${s.label}_saved_workflow.json`), JSON.stringify(saved.workflow, null, 2));

    // 3. Second run: the saved image changes.
    const run2 = await s.queueAndWait();
    check("second run succeeded", run2.status === "success", run2.detail ?? "");
    const image2 = await s.outputImageHash(run2);
    check("the output image changed", image1 && image2 && image1 !== image2, `${image1?.slice(0, 12)} -> ${image2?.slice(0, 12)}`);
    await page.waitForTimeout(500);
    await s.shoot("4_after_second_run");

    // 4. Reload the page and the saved workflow.
    await page.reload({ waitUntil: "networkidle" });
    await s.openApp();
    await s.loadWorkflow(saved.workflow, { keepModel: true });
    check("reloaded workflow restores the widget", (await editor("c.tool.editsText")) === afterDrag.edits);
    const fromCache = await page.waitForFunction(`(() => { const c = ${canvasOf}; return c.baseScene && c.previewImage; })()`,
        null, { timeout: 20000 }).then(() => true, () => false);
    check("after a reload the scene comes from the server's cache", fromCache);
    await s.focusNode(nodeId);
    await s.shoot("5_reloaded");

    // 5. The JSON widget can be shown from the menu, and typing there updates the canvas.
    const centre = await editor("c.canvasToClient({ x: c.canvas.width / 2, y: 12 })");
    await page.mouse.click(centre.x, centre.y, { button: "right" });
    await page.locator(".blobgan-editor-menu [data-label='Show the JSON widget']").click();
    await page.waitForTimeout(800);
    await s.shoot("6_json_shown");
    // the JSON widget: a visible text area holding the edit list (ComfyUI's own, not the editor's key sink)
    const shown = await page.evaluate((text) => {
        const found = [...document.querySelectorAll("textarea")].filter((t) => t.value === text && !t.readOnly
            && t.getBoundingClientRect().width > 20 && getComputedStyle(t).display !== "none" && getComputedStyle(t).visibility !== "hidden");
        found.forEach((t) => t.setAttribute("data-blobgan-json", "1"));
        return found.length;
    }, afterDrag.edits);
    const box = page.locator("textarea[data-blobgan-json]");
    check("the menu shows the JSON widget", shown === 1, `${shown} visible textareas with the edits`);
    if (shown === 1) {
        const typed = '[{"op": "remove", "blob": 0}]';
        await box.fill(typed);
        await page.waitForTimeout(300);
        check("typing in the JSON widget updates the canvas", (await editor("c.tool.editsText")) === '[\n  {"op": "remove", "blob": 0}\n]'
            && (await s.widgetValue(nodeId, "edits")) === typed, await editor("c.tool.editsText"));
    }
} catch (err) {
    await s.fail(err);
}
await s.finish();

/** "median M ms, max X ms (n)" of drag-to-pixels times measured in the browser. */
function summarize(times) {
    if (!times.length) return "none";
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    return `median ${median.toFixed(0)} ms, max ${sorted.at(-1).toFixed(0)} ms (n=${sorted.length})`;
}
