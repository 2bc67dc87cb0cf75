// The widget in points mode on the Drag Points node, in real ComfyUI with its real frontend:
//   1. load example_workflows/blobgan_drag_points.json with its points cleared and queue it: the run
//      fails for want of points, yet the widget gets the input scene from the preview route;
//   2. press-and-drag on the canvas places a handle and its target; click, click places another pair;
//      right-click "Remove pair" removes it, Ctrl+Z / Ctrl+Shift+Z undo and redo; the hidden `handles`
//      and `targets` widgets, the saved workflow and the prompt carry the points;
//   3. queue: the drag runs; move the target further and queue again: the saved image changes.
//
// usage: node tests/e2e_widget/points.mjs --port 8188 --out /tmp/widget_shots [--model NAME] [--label points]
//   (same set-up as run.mjs)
import { Finished, openSession, reportUnmounted } from "./lib.mjs";

const STEPS = 5; // drag iterations per run: enough to change the image, quick on a CPU

const s = await openSession("points");
const { page, check, results } = s;

try {
    const workflow = s.readWorkflow(s.args.workflow ?? "example_workflows/blobgan_drag_points.json");
    await s.loadWorkflow(workflow);
    const nodeId = await s.nodeIdOfType("BlobGANDragPoints");
    const canvasOf = `window.comfyAPI.app.app.graph.getNodeById(${JSON.stringify(nodeId)}).blobganEditor.canvas`;
    const editor = (expr) => page.evaluate(`(() => { const c = ${canvasOf}; return ${expr}; })()`);
    const points = async () => ({
        handles: JSON.parse(await s.widgetValue(nodeId, "handles")),
        targets: JSON.parse(await s.widgetValue(nodeId, "targets")),
    });
    const at = (x, y) => editor(`c.imageClientPoint(${x}, ${y})`);

    check("points widget restored into the canvas", await editor("c.tool.handles.length === 1 && c.tool.targets.length === 1"));
    check("points widgets hidden", await page.evaluate((id) => {
        const node = window.comfyAPI.app.app.graph.getNodeById(id);
        return ["handles", "targets"].every((n) => node.widgets.find((w) => w.name === n).hidden === true);
    }, nodeId));
    // Few iterations, and no points yet: the first run fails, as for a node just added.
    await page.evaluate(([id, steps]) => {
        const node = window.comfyAPI.app.app.graph.getNodeById(id);
        for (const [name, value] of [["steps", steps], ["handles", "[]"], ["targets", "[]"]]) {
            node.widgets.find((w) => w.name === name).value = value;
        }
        node.blobganEditor.loadFromWidgets();
    }, [nodeId, STEPS]);
    if (await reportUnmounted(page, nodeId, results)) throw new Finished();

    // 1. A run without points fails, but the widget gets its scene from the route.
    const run0 = await s.queueAndWait();
    check("a run without points fails in Drag Points", run0.status === "error" && /no drag points/.test(run0.detail ?? ""),
        (run0.detail ?? "").slice(0, 160));
    const gotScene = await page.waitForFunction(`(() => { const c = ${canvasOf}; return c.baseScene && c.baseImage; })()`,
        null, { timeout: 20000 }).then(() => true, () => false);
    check("the widget still gets the input scene (from the preview route)", gotScene);
    await s.closeDialogs(); // older frontends show the node error in a modal dialog
    await s.focusNode(nodeId);
    await s.shoot("1_scene_without_a_run");

    // 2. Place pairs.
    const nodePos = await page.evaluate((id) => [...window.comfyAPI.app.app.graph.getNodeById(id).pos], nodeId);
    const a = await at(40, 40), b = await at(48, 44);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps: 8 });
    await page.mouse.up();
    let p = await points();
    check("press and drag places a handle and its target",
        JSON.stringify(p) === JSON.stringify({ handles: [{ x: 40, y: 40 }], targets: [{ x: 48, y: 44 }] }), JSON.stringify(p));
    await page.mouse.click(...Object.values(await at(20, 50)));
    await page.mouse.click(...Object.values(await at(26, 50)));
    p = await points();
    check("click, click places a second pair", p.handles.length === 2 && p.targets.length === 2, JSON.stringify(p));
    await s.shoot("2_two_pairs");
    const second = await at(20, 50);
    await page.mouse.click(second.x, second.y, { button: "right" });
    await page.locator(".blobgan-editor-menu [data-label='Remove pair']").click();
    check("Remove pair from the context menu", (await points()).handles.length === 1);
    await page.keyboard.press("Control+z");
    check("Ctrl+Z brings the pair back", (await points()).handles.length === 2);
    await page.keyboard.press("Control+Shift+z");
    p = await points();
    check("Ctrl+Shift+Z removes it again", p.handles.length === 1);
    check("the node did not move",
        JSON.stringify(await page.evaluate((id) => [...window.comfyAPI.app.app.graph.getNodeById(id).pos], nodeId)) === JSON.stringify(nodePos));
    const saved = await s.saved(nodeId);
    check("saved workflow and prompt carry the points",
        saved.widgetsValues?.[0] === JSON.stringify(p.handles) && saved.widgetsValues?.[1] === JSON.stringify(p.targets)
        && saved.inputs?.handles === JSON.stringify(p.handles) && saved.inputs?.targets === JSON.stringify(p.targets),
        JSON.stringify(saved.widgetsValues?.slice(0, 2)));

    // 3. Run, move the target, run again.
    const run1 = await s.queueAndWait();
    check("the drag runs", run1.status === "success", (run1.detail ?? "").slice(0, 160));
    const image1 = await s.outputImageHash(run1);
    await s.focusNode(nodeId);
    await s.shoot("3_after_run");
    const t = await at(48, 44), t2 = await at(56, 48);
    await page.mouse.move(t.x, t.y);
    await page.mouse.down();
    await page.mouse.move(t2.x, t2.y, { steps: 6 });
    await page.mouse.up();
    p = await points();
    check("dragging the target moves it", JSON.stringify(p.targets) === JSON.stringify([{ x: 56, y: 48 }]), JSON.stringify(p));
    const run2 = await s.queueAndWait();
    const image2 = await s.outputImageHash(run2);
    check("the output image changed", run2.status === "success" && image1 && image2 && image1 !== image2,
        `${image1?.slice(0, 12)} -> ${image2?.slice(0, 12)}`);
    await s.shoot("4_after_second_run");
} catch (err) {
    await s.fail(err);
}
await s.finish();
