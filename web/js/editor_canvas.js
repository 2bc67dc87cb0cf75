// The blob editor canvas: the shell both editors share. It owns the DOM (a <canvas> and a hidden
// <textarea> that takes the keys), its sizing, the pointer, wheel, key and context-menu plumbing, the
// input image and the status line, and hands every gesture to its tool: editor/blob_tool.js (blobs
// mode, Edit Blob: an edit list) or editor/points_tool.js (points mode, Drag Points: handle/target
// points). It touches the DOM but not ComfyUI: blob_editor.js mounts it in a node, and tests/browser/
// mounts it on a plain page. The geometry is the pure modules under geometry/.
//
// Data flow: the host gives a SceneInfo (setScene), the input image (setBaseImage) and the stored
// text (tool.setEditsText / tool.setPointsText); the tool reports every committed change through
// onEditsChange / onPointsChange, which the host writes into the node's hidden STRING widgets, the
// single source of truth. While the edits change, the preview client (editor/preview_client.js)
// posts them to the preview route and the canvas draws the returned image under the overlay.

import { clientToCanvas, fitImageRect, imagePxToCanvas } from "./geometry/coords.js";
import { parseSceneInfo } from "./geometry/scene.js";
import { BlobTool } from "./editor/blob_tool.js";
import { PointsTool } from "./editor/points_tool.js";
import { loadImage, PreviewClient } from "./editor/preview_client.js";
import { openMenu } from "./editor_menu.js";

// Sizes in CSS px of the widget (scaled to canvas px by the backing-store ratio).
const DRAG_THRESHOLD = 3;
const STATUS_HEIGHT = 20;
const PADDING = 4;

const NO_PREVIEW_MESSAGE = "Queue the workflow once to enable live preview";
const NO_SCENE_MESSAGE = "Queue the workflow to load the scene";

/** The tool of each mode. */
const TOOLS = { blobs: BlobTool, points: PointsTool };

/**
 * @typedef {Object} EditorOptions
 * @property {"blobs" | "points"} [mode] default "blobs"
 * @property {((body: object, signal: AbortSignal) => Promise<Response>) | null} [fetchPreview]
 *   posts a preview request (JSON body) and returns a fetch Response; null disables live preview
 * @property {() => (string | null)} [nodeId] the node id sent with preview requests
 * @property {(text: string) => void} [onEditsChange] blobs mode: the edit list JSON after each change
 * @property {(points: {handles: string, targets: string}) => void} [onPointsChange] points mode:
 *   SAM3-style JSON of the handles and the targets after each change
 * @property {(message: string) => boolean} [confirm] asks before a reset (default window.confirm)
 * @property {number} [previewIntervalMs] least time between preview requests while dragging (default 80)
 * @property {"png" | "jpeg" | "webp"} [previewFormat] default "jpeg"
 * @property {number} [minHeight] CSS px, default 240
 * @property {() => object[]} [extraMenuItems] items the host appends to the context menu
 *   ({label, hint?, action?, disabled?} or {separator: true}, as in editor_menu.js)
 */

/**
 * What the shell asks of a tool. `p` is a position in canvas px and `rect` the ImageRect the image is
 * drawn in; a gesture `g` is what onPointerDown returned plus {pointerId, startPx, moved}. A tool
 * reads the shell (its host) for the base scene, showOverlay, gesture, hover, pxRatio, options and
 * the preview client, and calls its render() and say().
 * @typedef {Object} EditorTool
 * @property {string} label the editor's accessible name
 * @property {string} hint the status line while there is no message
 * @property {boolean} hasEdits whether the picture is the preview of edits rather than the input render
 * @property {object[]} previewEdits the edit list a preview request carries
 * @property {() => void} onScene the base scene changed
 * @property {(e: PointerEvent, p: object, rect: object) => (object | null)} onPointerDown a gesture, or null
 * @property {(g: object, p: object, rect: object, e: PointerEvent) => void} onPointerMove past the drag threshold
 * @property {(g: object) => void} onPointerUp
 * @property {(g: object) => void} onPointerCancel
 * @property {(p: object, rect: object) => (object | null)} hoverAt what the pointer is over, if anything
 * @property {(hover: object | null) => string} cursor the CSS cursor for it
 * @property {(e: WheelEvent, p: object, rect: object) => void} [onWheel] an event it leaves alone
 *   goes on to the graph (zoom)
 * @property {(p: object, rect: (object | null)) => object[]} contextMenu the menu items at p
 * @property {(e: KeyboardEvent, key: string, ctrl: boolean) => ((() => void) | null)} onKey the
 *   action of a key (key: lower case for letters), or null to leave the key alone
 * @property {(ctx: CanvasRenderingContext2D, rect: object) => void} draw the overlay over the image
 * @property {() => string} summary the right side of the status line
 * @property {() => boolean} undo
 * @property {() => boolean} redo
 * @property {() => boolean} reset
 * @property {() => void} clearSelection
 * @property {() => void} destroy
 */

export class BlobEditorCanvas {
    /**
     * @param {EditorOptions} [options]
     */
    constructor(options = {}) {
        this.options = {
            mode: "blobs",
            fetchPreview: null,
            nodeId: () => null,
            onEditsChange: () => {},
            onPointsChange: () => {},
            confirm: (message) => window.confirm(message),
            previewIntervalMs: 80,
            previewFormat: "jpeg",
            minHeight: 240,
            ...options,
        };
        if (!Object.hasOwn(TOOLS, this.options.mode)) {
            throw new Error(`BlobEditorCanvas: mode must be "blobs" or "points"; got ${this.options.mode}`);
        }
        this.mode = this.options.mode;

        this.baseScene = null;          // SceneInfo of the node's input (edits are relative to it)
        this.baseImage = null;          // HTMLImageElement of the input render
        this.previewImage = null;       // latest preview from the route
        this.previewKey = null;         // JSON of the (stored, rounded) edits that previewImage shows
        this.showOverlay = true;

        this.gesture = null;
        this.hover = null;
        this.closeMenu = null;

        this.message = "";
        this.messageLevel = "info";
        this.frame = 0;
        this.destroyed = false;

        /** @type {EditorTool} */
        this.tool = new TOOLS[this.mode](this);
        this.preview = new PreviewClient({
            fetchPreview: this.options.fetchPreview,
            nodeId: () => this.options.nodeId(),
            edits: () => this.tool.previewEdits,
            maxSide: () => this._previewMaxSide(),
            format: this.options.previewFormat,
            intervalMs: this.options.previewIntervalMs,
            onScene: (scene) => this.setScene(scene),
            onImage: (img, key) => this._showPreview(img, key),
            onProblem: (message, level) => this.say(message, level),
            onMissing: () => this.say(this.baseScene ? NO_PREVIEW_MESSAGE : NO_SCENE_MESSAGE, "warn"),
        });

        this._buildDom();
    }

    // =============================================================================================
    // DOM
    // =============================================================================================

    _buildDom() {
        const root = document.createElement("div");
        root.className = "blobgan-editor";
        Object.assign(root.style, {
            position: "relative", width: "100%", height: "100%", minHeight: `${this.options.minHeight}px`,
            boxSizing: "border-box", overflow: "hidden", background: "#1b1b1b", borderRadius: "4px",
        });
        const canvas = document.createElement("canvas");
        canvas.setAttribute("aria-hidden", "true");
        Object.assign(canvas.style, {
            position: "absolute", left: "0", top: "0", width: "100%", height: "100%", outline: "none",
            touchAction: "none", display: "block",
        });
        // Keys go to a read-only, invisible <textarea> that takes the focus when the canvas is
        // pressed: ComfyUI leaves text fields alone (its window-level capture listener for
        // Ctrl+Z/Ctrl+Y would otherwise undo graph changes, and its shortcuts would fire), and it
        // gives the editor a focus that screen readers can name.
        const keys = document.createElement("textarea");
        keys.readOnly = true;
        keys.tabIndex = 0;
        keys.setAttribute("aria-label", this.tool.label);
        keys.setAttribute("autocomplete", "off");
        keys.spellcheck = false;
        Object.assign(keys.style, {
            position: "absolute", left: "0", top: "0", width: "1px", height: "1px", padding: "0", border: "0",
            opacity: "0", resize: "none", overflow: "hidden", pointerEvents: "none", caretColor: "transparent",
        });
        root.append(canvas, keys);
        this.element = root;
        this.canvas = canvas;
        this.keyTarget = keys;
        this.ctx = canvas.getContext("2d");

        this._listeners = [];
        const on = (target, type, fn, opts) => {
            target.addEventListener(type, fn, opts);
            this._listeners.push(() => target.removeEventListener(type, fn, opts));
        };
        on(canvas, "pointerdown", (e) => this._onPointerDown(e));
        on(canvas, "pointermove", (e) => this._onPointerMove(e));
        on(canvas, "pointerup", (e) => this._onPointerUp(e));
        on(canvas, "pointercancel", (e) => this._onPointerCancel(e));
        on(canvas, "pointerleave", () => {
            if (!this.gesture) this._setHover(null);
        });
        on(canvas, "wheel", (e) => this._onWheel(e), { passive: false });
        on(canvas, "contextmenu", (e) => this._onContextMenu(e));
        on(keys, "keydown", (e) => this._onKeyDown(e));
        for (const type of ["keyup", "keypress", "paste", "cut", "copy"]) on(keys, type, (e) => e.stopPropagation());
        on(canvas, "dblclick", (e) => e.stopPropagation());
        // The graph underneath must not start a node drag or a selection from our pointer events.
        for (const type of ["mousedown", "mouseup", "click"]) on(root, type, (e) => e.stopPropagation());
        on(keys, "focus", () => this.render());
        on(keys, "blur", () => this.render());

        if (typeof ResizeObserver !== "undefined") {
            this._resizeObserver = new ResizeObserver(() => this._syncCanvasSize());
            this._resizeObserver.observe(root);
        }
        this._syncCanvasSize();
    }

    /** Match the backing store to the element's layout size times the device pixel ratio. */
    _syncCanvasSize() {
        const dpr = window.devicePixelRatio || 1;
        const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
        const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
        if (this.canvas.width !== w || this.canvas.height !== h) {
            this.canvas.width = w;
            this.canvas.height = h;
        }
        this.render();
    }

    /** Canvas px per CSS px of the widget's own layout (before any zoom transform of the page). */
    get pxRatio() {
        return this.canvas.width / Math.max(1, this.canvas.clientWidth || this.canvas.width);
    }

    /** Where the image sits in the canvas (ImageRect), or null before the scene size is known. */
    imageRect() {
        const size = this.imageSize();
        if (!size) return null;
        const r = this.pxRatio;
        return fitImageRect(size.width, size.height, this.canvas.width,
            Math.max(1, this.canvas.height - STATUS_HEIGHT * r), { padding: PADDING * r });
    }

    /** The image size in image px, from the scene or else the image; null while neither is known. */
    imageSize() {
        if (this.baseScene) return { width: this.baseScene.width, height: this.baseScene.height };
        if (this.baseImage?.naturalWidth) return { width: this.baseImage.naturalWidth, height: this.baseImage.naturalHeight };
        return null;
    }

    /**
     * Remove listeners, abort requests, cancel timers; the element is left for the host to detach.
     */
    destroy() {
        if (this.destroyed) return;
        this.destroyed = true;
        for (const off of this._listeners) off();
        this._listeners = [];
        this._resizeObserver?.disconnect();
        this.preview.close();
        this.tool.destroy();
        if (this.frame) cancelAnimationFrame(this.frame);
        this.closeMenu?.();
        this.element.remove();
    }

    // =============================================================================================
    // Data in and out (the tool's own: tool.setEditsText, tool.setPointsText, ...)
    // =============================================================================================

    /**
     * Set the scene under edit (the node's input scene). The tool keeps its edits; a new scene makes
     * the old preview stale.
     * @param {import("./geometry/scene.js").SceneInfo} info
     */
    setScene(info) {
        const scene = parseSceneInfo(info);
        const changed = JSON.stringify(scene) !== JSON.stringify(this.baseScene);
        this.baseScene = scene;
        if (changed) {
            this.previewImage = null;
            this.previewKey = null;
        }
        this.tool.onScene();
        if (this.message === NO_SCENE_MESSAGE) this.say("");
        this.render();
    }

    /**
     * Set the input render shown under the overlay (a URL or a loaded image).
     * @param {string | HTMLImageElement} source
     * @returns {Promise<void>}
     */
    async setBaseImage(source) {
        const img = typeof source === "string" ? await loadImage(source) : source;
        if (this.destroyed) return;
        this.baseImage = img;
        this.render();
    }

    /** Fetch the input scene and image from the route, with the tool's edits (after a page load, or to retry). */
    refresh() {
        this.preview.available = true;
        this.preview.schedule(true);
    }

    /** Give the editor the keyboard focus. */
    focus() {
        this.keyTarget.focus({ preventScroll: true });
    }

    /** Status line text (and level: "info" | "warn" | "error"). */
    say(text, level = "info") {
        this.message = text;
        this.messageLevel = level;
        this.render();
    }

    toggleOverlay() {
        this.showOverlay = !this.showOverlay;
        this.render();
    }

    /** Only an image smaller than the scene is worth asking for smaller (image px), else undefined. */
    _previewMaxSide() {
        const rect = this.imageRect();
        if (!rect || !this.baseScene) return undefined;
        const side = Math.ceil(Math.max(rect.width, rect.height));
        return side >= 16 && side < Math.max(this.baseScene.width, this.baseScene.height) ? side : undefined;
    }

    _showPreview(img, key) {
        this.previewImage = img;
        this.previewKey = key;
        if (key === "[]" && !this.baseImage) this.baseImage = img;
        if (this.messageLevel !== "error") this.say("");
        this.render();
    }

    // =============================================================================================
    // Pointer, wheel, menu and keys: the plumbing; what they do is the tool's
    // =============================================================================================

    _eventPoint(e) {
        const b = this.canvas.getBoundingClientRect();
        return clientToCanvas(e.clientX, e.clientY, b, this.canvas.width, this.canvas.height);
    }

    /** Canvas px per CSS px of the pointer, for thresholds (includes any zoom of the page). */
    _pointerScale() {
        const b = this.canvas.getBoundingClientRect();
        return b.width > 0 ? this.canvas.width / b.width : 1;
    }

    _onPointerDown(e) {
        e.stopPropagation();
        this.closeMenu?.();
        if (e.button !== 0) return; // right button: the contextmenu event handles it
        e.preventDefault();
        this.focus();
        const rect = this.imageRect();
        if (!rect) return;
        try {
            this.canvas.setPointerCapture(e.pointerId);
        } catch {
            // A synthetic or already-released pointer: the gesture still works while over the canvas.
        }
        const p = this._eventPoint(e);
        const gesture = this.tool.onPointerDown(e, p, rect);
        if (gesture) this.gesture = { pointerId: e.pointerId, startPx: p, moved: false, ...gesture };
        this.render();
    }

    _onPointerMove(e) {
        const p = this._eventPoint(e);
        const g = this.gesture;
        if (!g) {
            const rect = this.imageRect();
            this._setHover(rect ? this.tool.hoverAt(p, rect) : null);
            return;
        }
        if (e.pointerId !== g.pointerId) return;
        e.stopPropagation();
        e.preventDefault();
        const rect = this.imageRect();
        if (!rect) return;
        if (!g.moved) {
            const moved = Math.hypot(p.x - g.startPx.x, p.y - g.startPx.y) / this._pointerScale();
            if (moved < DRAG_THRESHOLD) return;
            g.moved = true;
        }
        this.tool.onPointerMove(g, p, rect, e);
    }

    _onPointerUp(e) {
        const g = this.gesture;
        if (!g || e.pointerId !== g.pointerId) return;
        e.stopPropagation();
        this.gesture = null;
        try {
            this.canvas.releasePointerCapture(e.pointerId);
        } catch {
            // already released
        }
        this.tool.onPointerUp(g);
    }

    _onPointerCancel(e) {
        const g = this.gesture;
        if (!g || e.pointerId !== g.pointerId) return;
        this.gesture = null;
        this.tool.onPointerCancel(g);
    }

    _setHover(hover) {
        const same = JSON.stringify(hover) === JSON.stringify(this.hover);
        this.hover = hover;
        this.canvas.style.cursor = this.tool.cursor(hover);
        if (!same) this.render();
    }

    _onWheel(e) {
        if (!this.tool.onWheel) return;
        const rect = this.imageRect();
        if (!rect) return;
        this.tool.onWheel(e, this._eventPoint(e), rect);
    }

    _onContextMenu(e) {
        e.preventDefault();
        e.stopPropagation();
        this.focus();
        const items = this.tool.contextMenu(this._eventPoint(e), this.imageRect());
        this._openMenu([...items, ...(this.options.extraMenuItems?.() ?? [])], e.clientX, e.clientY);
    }

    _openMenu(items, x, y) {
        this.closeMenu?.();
        // A pick moves the focus back to the canvas, so keys (Ctrl+Z) keep working right after.
        const refocus = items.map((item) => (item.action ? {
            ...item,
            action: () => {
                this.focus();
                item.action();
            },
        } : item));
        this.closeMenu = openMenu(refocus, x, y, { onClose: () => { this.closeMenu = null; } });
    }

    /** Keys (only while the canvas has focus): undo, redo, Escape, R and O here; the rest the tool's. */
    _onKeyDown(e) {
        const ctrl = e.ctrlKey || e.metaKey;
        const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
        const run = (fn) => {
            e.preventDefault();
            e.stopPropagation();
            fn();
        };
        if (ctrl) {
            let action = null;
            if (key === "z") action = e.shiftKey ? () => this.tool.redo() : () => this.tool.undo();
            else if (key === "y") action = () => this.tool.redo();
            action ??= this.tool.onKey(e, key, true);
            // Other shortcuts (save, queue, copy) stay ComfyUI's.
            if (action) run(action);
            return;
        }
        // Every plain key stops here, so ComfyUI's single-key shortcuts (Delete removes the node,
        // R refreshes, ...) do not fire while the editor has focus.
        e.stopPropagation();
        if (e.altKey) return;
        let action = null;
        if (key === "Escape") action = () => this._escape();
        else if (key === "r") action = () => this.tool.reset();
        else if (key === "o") action = () => this.toggleOverlay();
        action ??= this.tool.onKey(e, key, false);
        if (action) run(action);
    }

    _escape() {
        if (this.closeMenu) return this.closeMenu();
        this.tool.clearSelection();
        this.render();
    }

    // =============================================================================================
    // Drawing
    // =============================================================================================

    /** Schedule one redraw on the next animation frame (many calls, one draw). */
    render() {
        if (this.frame || this.destroyed) return;
        this.frame = requestAnimationFrame(() => {
            this.frame = 0;
            this._draw();
        });
    }

    /** Draw now (tests and screenshots). */
    drawNow() {
        if (this.frame) cancelAnimationFrame(this.frame);
        this.frame = 0;
        this._draw();
    }

    _draw() {
        const { ctx, canvas } = this;
        const r = this.pxRatio;
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.fillStyle = "#1b1b1b";
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        const rect = this.imageRect();
        if (rect) {
            this._drawImage(rect);
            this.tool.draw(ctx, rect);
        } else {
            ctx.fillStyle = "#888";
            ctx.font = `${13 * r}px system-ui, sans-serif`;
            ctx.textAlign = "center";
            ctx.textBaseline = "middle";
            ctx.fillText(NO_SCENE_MESSAGE, canvas.width / 2, (canvas.height - STATUS_HEIGHT * r) / 2);
        }
        this._drawStatus();
        if (document.activeElement === this.keyTarget) {
            ctx.strokeStyle = "rgba(120,170,255,0.7)";
            ctx.lineWidth = 2 * r;
            ctx.strokeRect(r, r, canvas.width - 2 * r, canvas.height - 2 * r);
        }
    }

    _drawImage(rect) {
        const { ctx } = this;
        // Without edits, the run's own render: previews are JPEG by default and may be rendered smaller.
        const img = this.tool.hasEdits ? this.previewImage ?? this.baseImage : this.baseImage ?? this.previewImage;
        if (img) {
            ctx.imageSmoothingEnabled = rect.scale < 1;
            ctx.drawImage(img, rect.x0, rect.y0, rect.width, rect.height);
        } else {
            ctx.fillStyle = "#2a2a2a";
            ctx.fillRect(rect.x0, rect.y0, rect.width, rect.height);
        }
    }

    _drawStatus() {
        const { ctx, canvas } = this;
        const r = this.pxRatio;
        const h = STATUS_HEIGHT * r;
        const y = canvas.height - h;
        ctx.fillStyle = "#111111";
        ctx.fillRect(0, y, canvas.width, h);
        ctx.font = `${11 * r}px system-ui, sans-serif`;
        ctx.textBaseline = "middle";
        const right = this.tool.summary();
        ctx.textAlign = "right";
        ctx.fillStyle = "#aaaaaa";
        ctx.fillText(right, canvas.width - 6 * r, y + h / 2);
        const leftWidth = canvas.width - ctx.measureText(right).width - 18 * r;
        const text = this.message || this.tool.hint;
        ctx.textAlign = "left";
        ctx.fillStyle = !this.message ? "#777777" : this.messageLevel === "error" ? "#ff7070"
            : this.messageLevel === "warn" ? "#ffc857" : "#dddddd";
        ctx.fillText(fitText(ctx, text, leftWidth), 6 * r, y + h / 2);
    }

    // =============================================================================================
    // Test and automation hooks (client coordinates of things on the canvas)
    // =============================================================================================

    /**
     * Client (CSS px) coordinates of a canvas point, for synthesized pointer input.
     * @param {{x: number, y: number}} p canvas px
     * @returns {{x: number, y: number}}
     */
    canvasToClient(p) {
        const b = this.canvas.getBoundingClientRect();
        return { x: b.left + (p.x * b.width) / this.canvas.width, y: b.top + (p.y * b.height) / this.canvas.height };
    }

    /**
     * Client coordinates of an image pixel position.
     * @param {number} ix image px
     * @param {number} iy image px
     */
    imageClientPoint(ix, iy) {
        const rect = this.imageRect();
        return rect ? this.canvasToClient(imagePxToCanvas(rect, ix, iy)) : null;
    }
}

function fitText(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    let lo = 0, hi = text.length;
    while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (ctx.measureText(`${text.slice(0, mid)}…`).width <= width) lo = mid;
        else hi = mid - 1;
    }
    return `${text.slice(0, lo)}…`;
}
