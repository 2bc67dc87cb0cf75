// Mounts the editor canvas three times on a plain page, the way blob_editor.js does in ComfyUI, but
// with plain objects standing in for the node's hidden widgets and fetch() to the test server's fake
// preview route: a blobs editor (Edit Blob), a points editor (Drag Points) and one whose node the
// server has never seen (404). The scene (page/scene.json) is the one the fake route also returns.
import { BlobEditorCanvas } from "/web/js/editor_canvas.js";

function makeBaseImage() {
    const c = document.createElement("canvas");
    c.width = 256;
    c.height = 256;
    const ctx = c.getContext("2d");
    const g = ctx.createLinearGradient(0, 0, 256, 256);
    g.addColorStop(0, "#6b7d8f");
    g.addColorStop(1, "#c9b38a");
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, 256, 256);
    ctx.strokeStyle = "rgba(0,0,0,0.25)";
    for (let i = 0; i <= 256; i += 32) {
        ctx.beginPath();
        ctx.moveTo(i, 0);
        ctx.lineTo(i, 256);
        ctx.moveTo(0, i);
        ctx.lineTo(256, i);
        ctx.stroke();
    }
    return c.toDataURL("image/png");
}

function fetchPreview(body, signal) {
    return fetch("/blobgan/preview", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal,
    });
}

// Events that reached the page outside the editors (must stay empty for handled input).
const leaked = [];
for (const type of ["pointerdown", "pointermove", "pointerup", "mousedown", "wheel", "contextmenu", "keydown"]) {
    document.getElementById("graph").addEventListener(type, (e) => leaked.push({ type, key: e.key ?? null }));
}

const widgets = { edits: { value: "[]" }, handles: { value: "[]" }, targets: { value: "[]" } };
const changes = { edits: 0, points: 0 };
const confirmAnswers = [];

const blobs = new BlobEditorCanvas({
    mode: "blobs",
    fetchPreview,
    nodeId: () => "7",
    onEditsChange: (text) => {
        widgets.edits.value = text;
        changes.edits += 1;
    },
    confirm: () => (confirmAnswers.length ? confirmAnswers.shift() : true),
});
document.getElementById("blobs").appendChild(blobs.element);

const points = new BlobEditorCanvas({
    mode: "points",
    fetchPreview,
    nodeId: () => "8",
    onPointsChange: ({ handles, targets }) => {
        widgets.handles.value = handles;
        widgets.targets.value = targets;
        changes.points += 1;
    },
    confirm: () => true,
});
document.getElementById("points").appendChild(points.element);

const missing = new BlobEditorCanvas({ mode: "blobs", fetchPreview, nodeId: () => "404" });
document.getElementById("missing").appendChild(missing.element);

const baseImage = makeBaseImage();
const scene = await (await fetch("./scene.json")).json();
await Promise.all([blobs.setBaseImage(baseImage), points.setBaseImage(baseImage)]);
blobs.setScene(scene);
points.setScene(scene);
blobs.tool.setEditsText(widgets.edits.value);
points.tool.setPointsText(widgets.handles.value, widgets.targets.value);
missing.refresh();

window.harness = { blobs, points, missing, widgets, changes, leaked, confirmAnswers, scene, ready: true };
