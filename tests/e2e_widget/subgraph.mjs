// The blob editor inside a subgraph, in real ComfyUI with its real frontend, in headless Chromium.
// Inside a subgraph the server runs (and caches the scene of) the Edit Blob node under its execution
// path ("9:5"), not under the node's own id ("5"), so the widget must send the id the run told it:
//   1. load example_workflows/blobgan_edit.json and convert its Edit Blob node into a subgraph with the
//      frontend's own command; the inner node's editor must keep the workflow's edits;
//   2. queue: the run must succeed, and the inner editor must use its execution path (from the run's
//      `executed` message, or worked out from the graph when ComfyUI serves the run from its cache);
//   3. the editor's live previews (of the workflow's edits, and after a new edit) must come back from
//      POST /blobgan/preview with 200, not 404 ("queue the workflow once").
// Screenshots and <label>_results.json go to OUT.
//
// usage: node tests/e2e_widget/subgraph.mjs --port 8188 --out /tmp/widget_shots [--label classic]
//   ComfyUI must be running with this pack, the Vue-nodes setting set beforehand (see run.mjs). Needs a
//   frontend with subgraphs (1.24 or newer); older ones end with a note and no failure.
import { Finished, openSession } from "./lib.mjs";

const s = await openSession("subgraph");
const { page, check, results } = s;

try {
    await s.loadWorkflow(s.readWorkflow("example_workflows/blobgan_edit.json"));
    const editId = await s.nodeIdOfType("BlobGANEditBlob");
    const editsAtLoad = await s.widgetValue(editId, "edits");

    // 1. Convert the Edit Blob node into a subgraph.
    const converted = await page.evaluate((id) => {
        const graph = window.comfyAPI.app.app.graph;
        if (typeof graph.convertToSubgraph !== "function") return { unsupported: true };
        const { subgraph, node } = graph.convertToSubgraph(new Set([graph.getNodeById(id)]));
        const inner = subgraph.nodes.find((n) => n.type === "BlobGANEditBlob");
        window.__blobganInner = inner;
        return { outer: String(node.id), inner: String(inner.id), hasEditor: !!inner.blobganEditor };
    }, editId);
    if (converted.unsupported) {
        results.notes.push("this frontend has no subgraphs");
        throw new Finished();
    }
    check("the inner Edit Blob node has its editor", converted.hasEditor, JSON.stringify(converted));
    const inner = (expr) => page.evaluate(`(() => { const e = window.__blobganInner.blobganEditor, c = e.canvas; return ${expr}; })()`);
    check("the workflow's edits survived the conversion",
        await inner(`JSON.stringify(c.tool.edits) === JSON.stringify(JSON.parse(${JSON.stringify(editsAtLoad)}))`));

    // 2. Run.
    const callsBefore = s.previewCalls.length;
    const run = await s.queueAndWait();
    check("the run succeeded", run.status === "success", run.detail ?? "");
    const expected = `${converted.outer}:${converted.inner}`;
    // A run served from ComfyUI's cache (the same graph queued again on this server) sends no
    // `executed`: then the editor works the path out from the graph, which the check below also covers.
    await page.waitForFunction(() => window.__blobganInner.blobganEditor.executionId !== null, null, { timeout: 5000 })
        .catch(() => results.notes.push("no executed message for the inner node (a cached run)"));
    const used = await inner("c.options.nodeId()");
    check("the editor sends the execution path as its node id", used === expected, `${used} (expected ${expected})`);

    // 3. Previews: of the workflow's edits, then after a new edit.
    const waitForPreview = async (after) => {
        const deadline = Date.now() + 30000;
        while (Date.now() < deadline && s.previewCalls.length <= after) await page.waitForTimeout(200);
        await page.waitForTimeout(500);
        return s.previewCalls.slice(after);
    };
    await inner("(c.refresh(), true)");
    const first = await waitForPreview(callsBefore);
    check("the preview of the workflow's edits came back", first.length > 0 && first.every((c) => c.status === 200),
        JSON.stringify(first.map((c) => [c.status, c.nodeId])));
    const afterFirst = s.previewCalls.length;
    // what the arrow keys do: nudge the selected blob
    await inner("(c.tool.select([c.tool.scene.order.at(-1)]), c.tool.nudgeSelected(3, 0), true)");
    const second = await waitForPreview(afterFirst);
    check("a new edit's preview came back", second.length > 0 && second.every((c) => c.status === 200),
        JSON.stringify(second.map((c) => [c.status, c.nodeId])));
    check("the canvas shows that preview", await inner("c.previewImage !== null && c.previewKey === JSON.stringify(JSON.parse(c.tool.editsText))"));
    await page.evaluate(() => {
        const app = window.comfyAPI.app.app;
        app.canvas.openSubgraph?.(window.__blobganInner.graph);
    });
    await page.waitForTimeout(1500);
    await s.shoot("inside_subgraph");
} catch (err) {
    await s.fail(err);
}
await s.finish();
