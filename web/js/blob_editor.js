// ComfyUI extension: mounts the blob editor canvas (editor_canvas.js) on the Edit Blob node (blobs
// mode: the `edits` widget) and the Drag Points node (points mode: the `handles` and `targets`
// widgets). The canvas is a DOM widget with serialize:false; the hidden STRING widgets stay the single
// source of truth, so the workflow file and the queued prompt carry the edits, and loading a workflow
// restores the canvas from them. Works with the classic canvas and with the Vue node renderer.
//
// `app` and `api` come from window.comfyAPI (no path-dependent imports of ComfyUI's scripts); the
// sibling modules are imported relatively, so the pack's folder name never matters.

import { BlobEditorCanvas } from "./editor_canvas.js";
import { executionPath } from "./execution_path.js";

const EXTENSION_NAME = "blobgan.BlobEditor";
const EDITOR_WIDGET_NAME = "blob_editor";
const PREVIEW_ROUTE = "/blobgan/preview";
const MIN_EDITOR_HEIGHT = 260;
const MIN_NODE_WIDTH = 360;

/** Node types that get an editor, and the hidden widgets each one writes. */
const NODE_MODES = {
    BlobGANEditBlob: { mode: "blobs", widgets: ["edits"] },
    BlobGANDragPoints: { mode: "points", widgets: ["handles", "targets"] },
};

const comfyApp = window.comfyAPI?.app?.app;
const comfyApi = window.comfyAPI?.api?.api;

/** Live editors, so that run events can reach the ones still waiting for their scene. */
const liveEditors = new Set();

if (comfyApp && comfyApi) {
    // A run that fails in a node (e.g. Drag Points without points yet) sends that node no `executed`,
    // but the node remembered its input scene for the preview route first: fetch it from there.
    for (const event of ["execution_success", "execution_error", "execution_interrupted"]) {
        comfyApi.addEventListener(event, () => {
            for (const editor of liveEditors) if (!editor.canvas.baseScene) editor.canvas.refresh();
        });
    }
    comfyApp.registerExtension({
        name: EXTENSION_NAME,
        beforeRegisterNodeDef(nodeType, nodeData) {
            const spec = NODE_MODES[nodeData?.name];
            if (!spec) return;
            chain(nodeType.prototype, "onNodeCreated", function () {
                attachEditor(this, spec);
            });
            chain(nodeType.prototype, "onConfigure", function () {
                // widgets_values are restored before onConfigure runs: re-read them.
                this.blobganEditor?.loadFromWidgets();
                fitNodeToEditor(this);
            });
            chain(nodeType.prototype, "onExecuted", function (output) {
                this.blobganEditor?.onExecuted(output);
            });
            chain(nodeType.prototype, "onRemoved", function () {
                this.blobganEditor?.destroy();
                this.blobganEditor = null;
            });
        },
        loadedGraphNode(node) {
            const editor = node.blobganEditor;
            if (!editor) return;
            editor.loadFromWidgets();
            // After a page reload the server may still hold the scene of the last run.
            editor.canvas.refresh();
        },
    });
}

/** Call `fn` after the original method (if any), keeping its return value. */
function chain(proto, name, fn) {
    const original = proto[name];
    proto[name] = function (...args) {
        const result = original?.apply(this, args);
        fn.apply(this, args);
        return result;
    };
}

function findWidget(node, name) {
    return node.widgets?.find((w) => w.name === name) ?? null;
}

/**
 * Hide (or show again) a STRING widget. `widget.hidden` is what the classic canvas and the Vue nodes
 * of current frontends read. The experimental Vue nodes of older frontends (1.27) read only
 * `options.hidden` and mount no DOM widgets at all: leaving `options.hidden` alone keeps the JSON text
 * editable there, as the only way to edit. The size override is for older classic canvases.
 */
function setWidgetHidden(widget, hidden) {
    widget.hidden = hidden;
    if (hidden) {
        if (!widget.blobganComputeSize) widget.blobganComputeSize = widget.computeSize ?? null;
        widget.computeSize = () => [0, -4];
    } else if (widget.blobganComputeSize !== undefined) {
        if (widget.blobganComputeSize) widget.computeSize = widget.blobganComputeSize;
        else delete widget.computeSize;
        delete widget.blobganComputeSize;
    }
    const element = widget.element ?? widget.inputEl;
    if (element?.style) element.style.display = hidden ? "none" : "";
}

function fitNodeToEditor(node) {
    const min = node.computeSize?.();
    if (!min || !node.size) return;
    const width = Math.max(node.size[0], min[0], MIN_NODE_WIDTH);
    const height = Math.max(node.size[1], min[1]);
    if (width !== node.size[0] || height !== node.size[1]) node.setSize?.([width, height]);
}

/**
 * Tell the workflow's change tracker (undo history, "modified" dot) that a widget changed. It looks on
 * mouseup and keydown by itself, but the editor's pointer gestures send no mouse events and its keys
 * are typed into a text field, which the tracker ignores. Newer frontends name the method
 * captureCanvasState, older ones checkState; without either, nothing happens.
 */
function noteGraphChange() {
    const tracker = comfyApp.extensionManager?.workflow?.activeWorkflow?.changeTracker;
    if (typeof tracker?.captureCanvasState === "function") tracker.captureCanvasState();
    else if (typeof tracker?.checkState === "function") tracker.checkState();
}

function previewFetcher(body, signal) {
    return comfyApi.fetchApi(PREVIEW_ROUTE, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal,
    });
}

function viewUrl(image) {
    const query = new URLSearchParams({
        filename: image.filename ?? "",
        type: image.type ?? "temp",
        subfolder: image.subfolder ?? "",
    });
    const extra = (comfyApp.getPreviewFormatParam?.() ?? "") + (comfyApp.getRandParam?.() ?? "");
    return comfyApi.apiURL(`/view?${query}${extra}`);
}

/** The editor of one node: the canvas, its DOM widget and the sync with the hidden widgets. */
class NodeEditor {
    constructor(node, spec) {
        this.node = node;
        this.spec = spec;
        this.syncing = false;
        this.showingText = false;
        this.executionId = null;
        this.canvas = new BlobEditorCanvas({
            mode: spec.mode,
            fetchPreview: previewFetcher,
            // The server keeps the scene under the id it ran the node with: inside a subgraph, the
            // execution path ("9:5"). A run tells us that id; without one (a reload, or a run served from
            // ComfyUI's cache, which sends no `executed`) it is worked out from the graph.
            nodeId: () => this.executionId ?? executionPath(node),
            onEditsChange: (text) => this.writeWidget("edits", text),
            onPointsChange: ({ handles, targets }) => {
                this.writeWidget("handles", handles);
                this.writeWidget("targets", targets);
            },
            extraMenuItems: () => [
                { separator: true },
                { label: this.showingText ? "Hide the JSON widget" : "Show the JSON widget",
                    action: () => this.toggleText() },
            ],
            minHeight: MIN_EDITOR_HEIGHT,
        });
        this.hideStoreWidgets(true);
        this.watchTyping();
        this.widget = node.addDOMWidget(EDITOR_WIDGET_NAME, "blobgan_editor", this.canvas.element, {
            serialize: false,
            hideOnZoom: false,
            getValue: () => undefined,
            setValue: () => {},
            getMinHeight: () => MIN_EDITOR_HEIGHT,
            margin: 4,
        });
        // Old frontends read the flag from the widget itself: keep it out of widgets_values, which
        // is positional and must hold only the backend inputs.
        this.widget.serialize = false;
        this.loadFromWidgets();
        liveEditors.add(this);
    }

    /** The hidden widgets hold the truth: load them into the canvas (history starts over). */
    loadFromWidgets() {
        if (this.syncing) return;
        if (this.spec.mode === "blobs") {
            const w = findWidget(this.node, "edits");
            if (w) this.canvas.tool.setEditsText(String(w.value ?? ""));
        } else {
            const h = findWidget(this.node, "handles"), t = findWidget(this.node, "targets");
            if (h && t) this.canvas.tool.setPointsText(String(h.value ?? ""), String(t.value ?? ""));
        }
    }

    writeWidget(name, text) {
        const widget = findWidget(this.node, name);
        if (!widget || widget.value === text) return;
        this.syncing = true;
        try {
            widget.value = text;
            const element = widget.element ?? widget.inputEl;
            if (element && "value" in element && element.value !== text) element.value = text;
            widget.callback?.(text, comfyApp.canvas, this.node);
        } finally {
            this.syncing = false;
        }
        this.node.setDirtyCanvas?.(true, true);
        comfyApp.graph?.setDirtyCanvas?.(true, true);
        noteGraphChange();
    }

    /** Typing into the (shown) JSON widget updates the canvas as one undoable step. */
    watchTyping() {
        for (const name of this.spec.widgets) {
            const widget = findWidget(this.node, name);
            if (!widget) continue;
            const original = widget.callback;
            widget.callback = (...args) => {
                const result = original?.apply(widget, args);
                if (!this.syncing) {
                    // Some renderers call back before they store the value: prefer the one passed in.
                    const text = typeof args[0] === "string" ? args[0] : String(widget.value ?? "");
                    if (this.spec.mode === "blobs") this.canvas.tool.setEditsText(text, { resetHistory: false });
                    else this.loadFromWidgets();
                }
                return result;
            };
        }
    }

    hideStoreWidgets(hidden) {
        for (const name of this.spec.widgets) {
            const widget = findWidget(this.node, name);
            if (widget) setWidgetHidden(widget, hidden);
        }
        this.showingText = !hidden;
    }

    toggleText() {
        this.hideStoreWidgets(this.showingText);
        fitNodeToEditor(this.node);
        this.node.setDirtyCanvas?.(true, true);
    }

    /** `ui` of a run: the input scene's geometry and its render. */
    onExecuted(output) {
        const info = output?.blobgan_scene?.[0];
        const executionId = output?.blobgan_node?.[0];
        if (typeof executionId === "string" && executionId) this.executionId = executionId;
        // Drag Points sends its input render as `drag_source` (all scenes of the batch; the first is ours).
        const image = output?.blobgan_image?.[0] ?? output?.drag_source?.[0];
        try {
            if (info) this.canvas.setScene(info);
        } catch (err) {
            this.canvas.say(`Bad scene from the server: ${err.message}`, "error");
            return;
        }
        if (image?.filename) this.canvas.setBaseImage(viewUrl(image)).catch(() => {});
        this.canvas.preview.available = true;
        // The run refreshed the server's scene cache: show the edited image right away.
        if (this.canvas.tool.hasEdits) this.canvas.refresh();
    }

    destroy() {
        liveEditors.delete(this);
        this.canvas.destroy();
    }
}

function attachEditor(node, spec) {
    if (node.blobganEditor) return;
    node.blobganEditor = new NodeEditor(node, spec);
    fitNodeToEditor(node);
}
