// The blob editor canvas: draws a scene's image with its blobs over it and turns pointer, wheel and
// keyboard gestures into an edit list (blobs mode, Edit Blob) or handle/target points (points mode,
// Drag Points). It touches the DOM but not ComfyUI: blob_editor.js mounts it in a node, and
// tests/browser/ mounts it on a plain page. Geometry, hit testing, gesture maths, the edit list and the
// undo history all come from the pure module blob_geometry.js.
//
// Data flow: the host gives a SceneInfo (setScene), the input image (setBaseImage) and the stored
// text (setEditsText / setPointsText); the canvas reports every committed change through
// onEditsChange / onPointsChange, which the host writes into the node's hidden STRING widgets, the
// single source of truth. While a gesture runs, the canvas posts the live edit list to the preview
// route (throttled, newest wins, older requests aborted) and draws the returned image under the overlay.

import * as G from "./blob_geometry.js";
import { openMenu } from "./editor_menu.js";

// Sizes in CSS px of the widget (scaled to canvas px by the backing-store ratio).
const HANDLE_RADIUS = 6;
const HANDLE_HIT_RADIUS = 9;
const ROTATE_OFFSET = 24;
const MIN_HANDLE_RADIUS = 12;
const PICK_RADIUS = 10;
const DRAG_THRESHOLD = 3;
const POINT_RADIUS = 6;
const POINT_HIT_RADIUS = 10;
const STATUS_HEIGHT = 20;
const PADDING = 4;

const DUPLICATE_OFFSET = 0.04;      // normalized units, down and right, so the copy is visibly apart
const NUDGE_PX = 1;                 // arrow keys move the selection by this many image px (x10 with Shift)
const REVIVE_SIZE = 2;              // size logit given to a revived blob that was hidden in the input too
const WHEEL_SESSION_MS = 400;       // wheel notches closer together than this are one undo step
const WHEEL_LINE_PX = 16;           // WheelEvent.deltaMode 1 (lines) -> px
const ROTATE_SNAP_DEGREES = 15;     // Shift while rotating

const NO_PREVIEW_MESSAGE = "Queue the workflow once to enable live preview";
const NO_SCENE_MESSAGE = "Queue the workflow to load the scene";

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
        if (!["blobs", "points"].includes(this.options.mode)) {
            throw new Error(`BlobEditorCanvas: mode must be "blobs" or "points"; got ${this.options.mode}`);
        }
        this.mode = this.options.mode;

        // Scene and images
        this.baseScene = null;          // SceneInfo of the node's input (edits are relative to it)
        this.scene = null;              // baseScene with the live edits applied
        this.baseImage = null;          // HTMLImageElement of the input render
        this.previewImage = null;       // latest preview from the route
        this.previewKey = null;         // JSON of the (stored, rounded) edits that previewImage shows

        // Blobs mode
        this.history = new G.EditHistory([]);
        this.edits = [];                // live edit list (history.current, or a gesture in progress)
        this.editsError = null;         // why the stored edits do not apply to the scene, if they do not
        this.selection = new Set();
        this.showOverlay = true;
        this.showHidden = false;

        // Points mode
        this.pointsHistory = new G.EditHistory({ handles: [], targets: [] });
        this.handles = [];
        this.targets = [];
        this.selectedPair = -1;

        // Interaction
        this.gesture = null;
        this.wheel = null;              // {base, ids, scale, timer}
        this.hover = null;
        this.closeMenu = null;

        // Preview requests
        this.previewTimer = null;
        this.previewInflight = null;    // AbortController of the request in flight
        this.previewSeq = 0;            // sequence number of the latest request sent
        this.previewShownSeq = 0;       // ... and of the latest one drawn
        this.previewLastSent = -Infinity;
        this.previewRoundTripMs = 0;    // last measured drag-to-pixels time (request to decoded image)
        this.previewStats = { sent: 0, aborted: 0, received: 0, failed: 0 };
        this.previewTimes = [];         // the last round trips (ms), for measurements
        this.previewAvailable = true;

        this.message = "";
        this.messageLevel = "info";
        this.frame = 0;
        this.destroyed = false;

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
        keys.setAttribute("aria-label", this.mode === "blobs" ? "Blob editor" : "Drag points editor");
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
        const size = this._imageSize();
        if (!size) return null;
        const r = this.pxRatio;
        return G.fitImageRect(size.width, size.height, this.canvas.width,
            Math.max(1, this.canvas.height - STATUS_HEIGHT * r), { padding: PADDING * r });
    }

    _imageSize() {
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
        this.previewInflight?.abort();
        clearTimeout(this.previewTimer);
        clearTimeout(this.wheel?.timer);
        if (this.frame) cancelAnimationFrame(this.frame);
        this.closeMenu?.();
        this.element.remove();
    }

    // =============================================================================================
    // Data in and out
    // =============================================================================================

    /**
     * Set the scene under edit (the node's input scene). Keeps the edits; drops a selection that no
     * longer exists; a new scene makes the old preview stale.
     * @param {import("./blob_geometry.js").SceneInfo} info
     */
    setScene(info) {
        const scene = G.parseSceneInfo(info);
        const changed = JSON.stringify(scene) !== JSON.stringify(this.baseScene);
        this.baseScene = scene;
        if (changed) {
            this.previewImage = null;
            this.previewKey = null;
        }
        this._recompute();
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

    /**
     * Load the stored edit list (from the hidden widget: a workflow was loaded, or it was typed in).
     * An unparsable text is kept out of the history and reported in the status line.
     * @param {string} text
     * @param {{resetHistory?: boolean}} [opts] resetHistory (default true): forget undo steps;
     *   false: make it one undoable step
     * @returns {boolean} whether the text was a valid edit list
     */
    setEditsText(text, { resetHistory = true } = {}) {
        let edits;
        try {
            edits = G.parseEdits(text);
        } catch (err) {
            this.editsError = err.message;
            this.say(err.message, "error");
            this.render();
            return false;
        }
        if (resetHistory) this.history.reset(edits);
        else this.history.push(edits);
        this.edits = this.history.current;
        this._recompute();
        this.render();
        return true;
    }

    /** The edit list as stored in the widget. */
    get editsText() {
        return G.serializeEdits(this.edits);
    }

    /**
     * Load stored points (points mode): SAM3-style JSON in image px.
     * @param {string} handlesText
     * @param {string} targetsText
     * @returns {boolean} whether both parsed
     */
    setPointsText(handlesText, targetsText) {
        try {
            this.handles = G.parsePoints(handlesText, "handles");
            this.targets = G.parsePoints(targetsText, "targets");
        } catch (err) {
            this.say(err.message, "error");
            this.render();
            return false;
        }
        this.pointsHistory.reset({ handles: this.handles, targets: this.targets });
        this.selectedPair = -1;
        this.render();
        return true;
    }

    /** Points as stored in the widgets. */
    get pointsText() {
        return { handles: G.serializePoints(this.handles), targets: G.serializePoints(this.targets) };
    }

    /** Ids of the selected blobs, ascending. */
    get selectedIds() {
        return [...this.selection].sort((a, b) => a - b);
    }

    /**
     * Replace the selection.
     * @param {Iterable<number>} ids
     */
    select(ids) {
        this.selection = new Set([...ids].filter((id) => this.scene && id >= 0 && id < this.scene.blobs.length));
        this.render();
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

    /** Apply the live edits to the base scene (the geometry drawn and hit-tested). */
    _recompute() {
        if (!this.baseScene) {
            this.scene = null;
            return;
        }
        try {
            this.scene = G.applyEdits(this.baseScene, this.edits);
            if (this.editsError) {
                this.editsError = null;
                if (this.messageLevel === "error") this.say("");
            }
        } catch (err) {
            // Edits for another scene (e.g. the input changed): show the input, keep the text as it is.
            this.scene = G.cloneScene(this.baseScene);
            this.editsError = err.message;
            this.say(`${err.message} (the edits do not fit this scene)`, "error");
        }
        for (const id of this.selection) {
            if (id >= this.scene.blobs.length) this.selection.delete(id);
        }
    }

    /** Set the live edits during a gesture (not yet in the history). */
    _setLive(edits) {
        this.edits = edits;
        this._recompute();
        this.render();
        this._schedulePreview(false);
    }

    /** Commit an edit list: one undo step, reported to the host, previewed. */
    _commit(edits) {
        // Store exactly what the widget will hold (rounded), so undo, redo and reloads agree.
        const changed = this.history.push(JSON.parse(G.serializeEdits(edits)));
        this.edits = this.history.current;
        this._recompute();
        this.render();
        if (changed) this.options.onEditsChange(this.editsText);
        this._schedulePreview(true);
        return changed;
    }

    _commitPoints() {
        const rounded = {
            handles: G.parsePoints(G.serializePoints(this.handles)),
            targets: G.parsePoints(G.serializePoints(this.targets)),
        };
        this.handles = rounded.handles;
        this.targets = rounded.targets;
        const changed = this.pointsHistory.push(rounded);
        this.render();
        if (changed) this.options.onPointsChange(this.pointsText);
        return changed;
    }

    // =============================================================================================
    // Actions (keys and menu)
    // =============================================================================================

    undo() {
        if (this.mode === "points") return this._restorePoints(this.pointsHistory.undo());
        this._endWheelSession();
        const edits = this.history.undo();
        if (!edits) return false;
        this._afterHistoryMove();
        return true;
    }

    redo() {
        if (this.mode === "points") return this._restorePoints(this.pointsHistory.redo());
        this._endWheelSession();
        const edits = this.history.redo();
        if (!edits) return false;
        this._afterHistoryMove();
        return true;
    }

    _afterHistoryMove() {
        this.edits = this.history.current;
        this._recompute();
        this.render();
        this.options.onEditsChange(this.editsText);
        this._schedulePreview(true);
    }

    _restorePoints(state) {
        if (!state) return false;
        this.handles = state.handles;
        this.targets = state.targets;
        this.selectedPair = -1;
        this.render();
        this.options.onPointsChange(this.pointsText);
        return true;
    }

    /** Remove every edit (or every point), after asking; undoable. */
    reset() {
        if (this.mode === "points") {
            if (!this.handles.length && !this.targets.length) return false;
            if (!this.options.confirm("Remove all drag points?")) return false;
            this.handles = [];
            this.targets = [];
            this.selectedPair = -1;
            return this._commitPoints();
        }
        if (!this.edits.length) return false;
        if (!this.options.confirm("Reset: remove all edits of this node? (Undo brings them back.)")) return false;
        this.selection.clear();
        return this._commit([]);
    }

    /** Hide the selected visible blobs (op "remove"). */
    removeSelected() {
        if (this.mode === "points") return this._removeSelectedPair();
        const ids = this._selectedWhere((b) => G.isVisible(b));
        if (!ids.length) return false;
        this.selection.clear();
        return this._commit([...this.edits, ...ids.map((blob) => ({ op: "remove", blob }))]);
    }

    /** Duplicate the selected blobs, offset down-right; the copies become the selection. */
    duplicateSelected() {
        const ids = this._selectedWhere(() => true);
        if (!ids.length || !this.scene) return false;
        const first = this.scene.blobs.length;
        const edits = ids.map((blob) => ({ op: "duplicate", blob, dx: DUPLICATE_OFFSET, dy: DUPLICATE_OFFSET }));
        const changed = this._commit([...this.edits, ...edits]);
        this.selection = new Set(ids.map((_, i) => first + i));
        this.render();
        return changed;
    }

    /**
     * Change the depth of the selected blobs.
     * @param {"forward" | "backward" | "to_front" | "to_back"} op
     */
    depthSelected(op) {
        if (!this.scene) return false;
        // Front-most first when moving forward (and back-most first backward), so selected
        // neighbours do not swap with each other.
        const rank = new Map(this.scene.order.map((id, i) => [id, i]));
        const ids = this._selectedWhere(() => true).sort((a, b) => rank.get(a) - rank.get(b));
        if (!ids.length) return false;
        if (op === "forward" || op === "to_back") ids.reverse();
        return this._commit([...this.edits, ...ids.map((blob) => ({ op, blob }))]);
    }

    /** Give hidden selected blobs their input size back (or a default size if hidden in the input). */
    reviveSelected() {
        const ids = this._selectedWhere((b) => !G.isVisible(b));
        if (!ids.length) return false;
        const edits = ids.map((blob) => {
            const original = this.baseScene.blobs[blob];
            const size = original && G.isVisible(original) ? original.size : REVIVE_SIZE;
            return { op: "set_size", blob, size: G.roundTo(size) };
        });
        return this._commit([...this.edits, ...edits]);
    }

    /**
     * Move the selection by image px (arrow keys).
     * @param {number} dxPx
     * @param {number} dyPx
     */
    nudgeSelected(dxPx, dyPx) {
        const ids = this._selectedWhere(() => true);
        if (!ids.length || !this.baseScene) return false;
        const group = G.moveEdits(ids, dxPx / this.baseScene.width, dyPx / this.baseScene.height);
        return this._commit(G.pushOrMergeMany(this.edits, group));
    }

    toggleOverlay() {
        this.showOverlay = !this.showOverlay;
        this.render();
    }

    toggleHidden() {
        this.showHidden = !this.showHidden;
        if (!this.showHidden && this.scene) {
            for (const id of [...this.selection]) if (!G.isVisible(this.scene.blobs[id])) this.selection.delete(id);
        }
        this.say(this.showHidden ? "Showing hidden blobs (dashed): select one and Revive it" : "");
        this.render();
    }

    selectAll() {
        if (!this.scene) return;
        this.select(this.scene.order.filter((id) => this.showHidden || G.isVisible(this.scene.blobs[id])));
    }

    _selectedWhere(keep) {
        if (!this.scene) return [];
        return this.selectedIds.filter((id) => this.scene.blobs[id] && keep(this.scene.blobs[id]));
    }

    _removeSelectedPair() {
        if (this.selectedPair < 0) return false;
        const next = G.removePointPair(this.handles, this.targets, this.selectedPair);
        this.handles = next.handles;
        this.targets = next.targets;
        this.selectedPair = -1;
        return this._commitPoints();
    }

    // =============================================================================================
    // Pointer input
    // =============================================================================================

    _eventPoint(e) {
        const b = this.canvas.getBoundingClientRect();
        return G.clientToCanvas(e.clientX, e.clientY, b, this.canvas.width, this.canvas.height);
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
        this._endWheelSession();
        try {
            this.canvas.setPointerCapture(e.pointerId);
        } catch {
            // A synthetic or already-released pointer: the gesture still works while over the canvas.
        }
        const p = this._eventPoint(e);
        if (this.mode === "points") this._pointsDown(e, p, rect);
        else this._blobsDown(e, p, rect);
        this.render();
    }

    _blobsDown(e, p, rect) {
        if (!this.scene) return;
        const r = this.pxRatio;
        const start = { pointerId: e.pointerId, startPx: p, base: this.history.current, moved: false };
        const handleHit = this.showOverlay ? G.hitTestHandles(this.scene, this.selection, rect, p, {
            radiusPx: HANDLE_HIT_RADIUS * r, rotateOffsetPx: ROTATE_OFFSET * r, minRadiusPx: MIN_HANDLE_RADIUS * r,
        }) : null;
        if (handleHit) {
            this.gesture = { ...start, kind: "handle", id: handleHit.id, handle: handleHit.handle,
                blob: this.scene.blobs[handleHit.id] };
            return;
        }
        const id = G.hitTestBlob(this.scene, G.canvasToNorm(rect, p.x, p.y), {
            rect, pickRadiusPx: PICK_RADIUS * r, includeHidden: this.showHidden,
        });
        if (id === null) {
            if (!e.shiftKey) this.selection.clear();
            this.gesture = { ...start, kind: "marquee", current: p, additive: e.shiftKey,
                before: new Set(this.selection) };
            return;
        }
        if (e.shiftKey) {
            if (this.selection.has(id)) this.selection.delete(id);
            else this.selection.add(id);
            this.gesture = { ...start, kind: "move", ids: this.selectedIds, clickedId: id, toggled: true };
            return;
        }
        if (!this.selection.has(id)) this.selection = new Set([id]);
        this.gesture = { ...start, kind: "move", ids: this.selectedIds, clickedId: id, toggled: false };
    }

    _pointsDown(e, p, rect) {
        const r = this.pxRatio;
        const size = this._imageSize();
        const hit = G.hitTestDragPoints({ handles: this.handles, targets: this.targets }, p, rect,
            { radiusPx: POINT_HIT_RADIUS * r });
        const start = { pointerId: e.pointerId, startPx: p, moved: false };
        if (hit) {
            this.selectedPair = hit.index;
            this.gesture = { ...start, kind: "point", list: hit.list, index: hit.index };
            return;
        }
        const at = G.clampPoint(G.canvasToImagePx(rect, p.x, p.y), size.width, size.height);
        if (G.nextPointRole(this.handles, this.targets) === "target") {
            // A handle is waiting for its target: this click places it (and a drag adjusts it).
            this.targets = [...this.targets, at];
            this.selectedPair = this.targets.length - 1;
            this.gesture = { ...start, kind: "point", list: "targets", index: this.targets.length - 1, placed: true };
            return;
        }
        this.handles = [...this.handles, at];
        this.selectedPair = this.handles.length - 1;
        this.gesture = { ...start, kind: "new-pair", index: this.handles.length - 1, placed: true };
    }

    _onPointerMove(e) {
        const p = this._eventPoint(e);
        const g = this.gesture;
        if (!g) {
            this._updateHover(p);
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
        if (this.mode === "points") this._pointsMove(g, p, rect);
        else this._blobsMove(g, p, rect, e);
    }

    _blobsMove(g, p, rect, e) {
        if (g.kind === "marquee") {
            g.current = p;
            const found = G.blobsInBox(this.scene, G.canvasToNorm(rect, g.startPx.x, g.startPx.y),
                G.canvasToNorm(rect, p.x, p.y), { includeHidden: this.showHidden });
            this.selection = new Set([...(g.additive ? g.before : []), ...found]);
            this.render();
            return;
        }
        let group;
        if (g.kind === "move") {
            if (!g.ids.length) return;
            const d = G.pixelDeltaToNorm(rect, p.x - g.startPx.x, p.y - g.startPx.y);
            group = G.moveEdits(g.ids, d.dx, d.dy);
        } else {
            group = [G.handleDragEdit(g.blob, g.handle, g.startPx, p, rect,
                { snapDegrees: e.shiftKey ? ROTATE_SNAP_DEGREES : 0 })];
        }
        const edits = group.every((edit) => G.isIdentityEdit(edit)) ? g.base : G.pushOrMergeMany(g.base, group);
        this._setLive(edits);
    }

    _pointsMove(g, p, rect) {
        const size = this._imageSize();
        const at = G.clampPoint(G.canvasToImagePx(rect, p.x, p.y), size.width, size.height);
        if (g.kind === "new-pair") {
            // Dragging out of a fresh handle sets its target.
            if (this.targets.length < this.handles.length && this.targets.length === g.index) {
                this.targets = [...this.targets, at];
            } else {
                this.targets = this.targets.map((t, i) => (i === g.index ? at : t));
            }
        } else {
            const list = g.list === "handles" ? this.handles : this.targets;
            const next = list.map((q, i) => (i === g.index ? at : q));
            if (g.list === "handles") this.handles = next;
            else this.targets = next;
        }
        this.render();
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
        if (this.mode === "points") {
            if (g.moved || g.placed) this._commitPoints();
            this.render();
            return;
        }
        if (g.kind === "marquee") {
            this.render();
            return;
        }
        if (!g.moved) {
            // A plain click on a blob of a multi-selection selects just that blob.
            if (g.kind === "move" && !g.toggled && g.clickedId !== undefined) this.selection = new Set([g.clickedId]);
            this.render();
            return;
        }
        this._commit(this.edits);
    }

    _onPointerCancel(e) {
        const g = this.gesture;
        if (!g || e.pointerId !== g.pointerId) return;
        this.gesture = null;
        if (this.mode === "points") {
            this._restorePoints(this.pointsHistory.current);
            return;
        }
        this._setLive(this.history.current);
    }

    _updateHover(p) {
        const rect = this.imageRect();
        if (!rect) return this._setHover(null);
        const r = this.pxRatio;
        if (this.mode === "points") {
            const hit = G.hitTestDragPoints({ handles: this.handles, targets: this.targets }, p, rect,
                { radiusPx: POINT_HIT_RADIUS * r });
            return this._setHover(hit ? { kind: "point" } : null);
        }
        if (!this.scene) return this._setHover(null);
        const handleHit = this.showOverlay ? G.hitTestHandles(this.scene, this.selection, rect, p, {
            radiusPx: HANDLE_HIT_RADIUS * r, rotateOffsetPx: ROTATE_OFFSET * r, minRadiusPx: MIN_HANDLE_RADIUS * r,
        }) : null;
        if (handleHit) return this._setHover({ kind: "handle", ...handleHit });
        const id = G.hitTestBlob(this.scene, G.canvasToNorm(rect, p.x, p.y), {
            rect, pickRadiusPx: PICK_RADIUS * r, includeHidden: this.showHidden,
        });
        return this._setHover(id === null ? null : { kind: "blob", id });
    }

    _setHover(hover) {
        const same = JSON.stringify(hover) === JSON.stringify(this.hover);
        this.hover = hover;
        const cursors = { resize: "nwse-resize", aspect: "ew-resize", rotate: "grab" };
        this.canvas.style.cursor = !hover ? (this.mode === "points" ? "crosshair" : "default")
            : hover.kind === "handle" ? cursors[hover.handle] : "move";
        if (!same) this.render();
    }

    _onWheel(e) {
        if (this.mode !== "blobs" || !this.scene) return;
        const rect = this.imageRect();
        if (!rect) return;
        const p = this._eventPoint(e);
        const under = G.hitTestBlob(this.scene, G.canvasToNorm(rect, p.x, p.y), {
            rect, pickRadiusPx: PICK_RADIUS * this.pxRatio,
        });
        // Resize the selection; without one, the blob under the pointer; over nothing, let the
        // graph have the wheel (zoom) as usual.
        let ids = this.selectedIds;
        if (!ids.length && under !== null) ids = [under];
        ids = ids.filter((id) => G.isVisible(this.scene.blobs[id]));
        if (!ids.length) return;
        e.preventDefault();
        e.stopPropagation();
        const deltaY = e.deltaMode === 1 ? e.deltaY * WHEEL_LINE_PX : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
        const w = this.wheel;
        if (!w || w.ids.join() !== ids.join()) {
            this._endWheelSession();
            this.wheel = { base: this.history.current, ids, scale: 1, timer: null };
        }
        const session = this.wheel;
        session.scale = Math.min(Math.max(session.scale * G.wheelScale(deltaY), G.GESTURE_SCALE_RANGE[0]),
            G.GESTURE_SCALE_RANGE[1]);
        const group = ids.map((blob) => ({ op: "resize", blob, scale: session.scale }));
        this._setLive(G.pushOrMergeMany(session.base, group));
        clearTimeout(session.timer);
        session.timer = setTimeout(() => this._endWheelSession(), WHEEL_SESSION_MS);
    }

    _endWheelSession() {
        const w = this.wheel;
        if (!w) return;
        clearTimeout(w.timer);
        this.wheel = null;
        this._commit(this.edits);
    }

    _onContextMenu(e) {
        e.preventDefault();
        e.stopPropagation();
        this.focus();
        const rect = this.imageRect();
        const p = this._eventPoint(e);
        if (this.mode === "points") {
            const hit = rect ? G.hitTestDragPoints({ handles: this.handles, targets: this.targets }, p, rect,
                { radiusPx: POINT_HIT_RADIUS * this.pxRatio }) : null;
            if (hit) this.selectedPair = hit.index;
            this.render();
            this._openMenu(this._pointsMenu(hit), e.clientX, e.clientY);
            return;
        }
        if (this.scene && rect) {
            const id = G.hitTestBlob(this.scene, G.canvasToNorm(rect, p.x, p.y), {
                rect, pickRadiusPx: PICK_RADIUS * this.pxRatio, includeHidden: this.showHidden,
            });
            if (id !== null && !this.selection.has(id)) this.selection = new Set([id]);
            this.render();
        }
        this._openMenu(this._blobsMenu(), e.clientX, e.clientY);
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

    _blobsMenu() {
        const sel = this.scene ? this.selectedIds : [];
        const visible = sel.filter((id) => G.isVisible(this.scene.blobs[id]));
        const hidden = sel.filter((id) => !G.isVisible(this.scene.blobs[id]));
        const none = sel.length === 0;
        const items = [
            { label: "Delete", hint: "Del", disabled: !visible.length, action: () => this.removeSelected() },
            { label: "Duplicate", hint: "Ctrl+D", disabled: none, action: () => this.duplicateSelected() },
        ];
        if (hidden.length) items.push({ label: "Revive", hint: "", action: () => this.reviveSelected() });
        items.push(
            { separator: true },
            { label: "Bring forward", hint: "] / PgUp", disabled: none, action: () => this.depthSelected("forward") },
            { label: "Send backward", hint: "[ / PgDn", disabled: none, action: () => this.depthSelected("backward") },
            { label: "Bring to front", hint: "Shift+]", disabled: none, action: () => this.depthSelected("to_front") },
            { label: "Send to back", hint: "Shift+[", disabled: none, action: () => this.depthSelected("to_back") },
            { separator: true },
            { label: "Undo", hint: "Ctrl+Z", disabled: !this.history.canUndo, action: () => this.undo() },
            { label: "Redo", hint: "Ctrl+Shift+Z", disabled: !this.history.canRedo, action: () => this.redo() },
            { label: "Reset all edits", hint: "R", disabled: !this.edits.length, action: () => this.reset() },
            { separator: true },
            { label: this.showOverlay ? "Hide overlay" : "Show overlay", hint: "O", action: () => this.toggleOverlay() },
            { label: this.showHidden ? "Hide hidden blobs" : "Show hidden blobs", hint: "H",
                action: () => this.toggleHidden() },
        );
        return [...items, ...(this.options.extraMenuItems?.() ?? [])];
    }

    _pointsMenu(hit) {
        const items = [
            { label: "Remove pair", hint: "Del", disabled: !hit, action: () => this._removeSelectedPair() },
            { separator: true },
            { label: "Undo", hint: "Ctrl+Z", disabled: !this.pointsHistory.canUndo, action: () => this.undo() },
            { label: "Redo", hint: "Ctrl+Shift+Z", disabled: !this.pointsHistory.canRedo, action: () => this.redo() },
            { label: "Remove all points", hint: "R", disabled: !this.handles.length && !this.targets.length,
                action: () => this.reset() },
            { separator: true },
            { label: this.showOverlay ? "Hide blobs" : "Show blobs", hint: "O", action: () => this.toggleOverlay() },
        ];
        return [...items, ...(this.options.extraMenuItems?.() ?? [])];
    }

    // =============================================================================================
    // Keyboard (only while the canvas has focus)
    // =============================================================================================

    _onKeyDown(e) {
        const ctrl = e.ctrlKey || e.metaKey;
        const key = e.key;
        const lower = key.length === 1 ? key.toLowerCase() : key;
        const run = (fn) => {
            e.preventDefault();
            e.stopPropagation();
            fn();
        };
        if (ctrl) {
            if (lower === "z" && !e.shiftKey) return run(() => this.undo());
            if ((lower === "z" && e.shiftKey) || lower === "y") return run(() => this.redo());
            if (lower === "d" && this.mode === "blobs") return run(() => this.duplicateSelected());
            if (lower === "a" && this.mode === "blobs") return run(() => this.selectAll());
            // Other shortcuts (save, queue, copy) stay ComfyUI's.
            return;
        }
        // Every plain key stops here, so ComfyUI's single-key shortcuts (Delete removes the node,
        // R refreshes, ...) do not fire while the editor has focus.
        e.stopPropagation();
        if (e.altKey) return;
        const step = e.shiftKey ? 10 * NUDGE_PX : NUDGE_PX;
        switch (key) {
            case "Delete":
            case "Backspace":
                return run(() => this.removeSelected());
            case "Escape":
                return run(() => {
                    if (this.closeMenu) return this.closeMenu();
                    this.selection.clear();
                    this.selectedPair = -1;
                    this.render();
                });
            case "PageUp":
                return run(() => this.depthSelected(e.shiftKey ? "to_front" : "forward"));
            case "PageDown":
                return run(() => this.depthSelected(e.shiftKey ? "to_back" : "backward"));
            case "]":
                return run(() => this.depthSelected("forward"));
            case "[":
                return run(() => this.depthSelected("backward"));
            case "}":
                return run(() => this.depthSelected("to_front"));
            case "{":
                return run(() => this.depthSelected("to_back"));
            case "ArrowLeft":
                return this.mode === "blobs" && run(() => this.nudgeSelected(-step, 0));
            case "ArrowRight":
                return this.mode === "blobs" && run(() => this.nudgeSelected(step, 0));
            case "ArrowUp":
                return this.mode === "blobs" && run(() => this.nudgeSelected(0, -step));
            case "ArrowDown":
                return this.mode === "blobs" && run(() => this.nudgeSelected(0, step));
            default:
                break;
        }
        if (lower === "r") return run(() => this.reset());
        if (lower === "o") return run(() => this.toggleOverlay());
        if (lower === "h" && this.mode === "blobs") return run(() => this.toggleHidden());
    }

    // =============================================================================================
    // Live preview
    // =============================================================================================

    /**
     * Ask the route for the current edits' image: at once (final: after a gesture, undo, load), or
     * throttled while dragging. A newer request aborts the one in flight.
     * @param {boolean} final
     */
    _schedulePreview(final) {
        if (!this.options.fetchPreview || this.destroyed || this.mode !== "blobs") return;
        if (!this.previewAvailable && !final) return;
        if (final) {
            clearTimeout(this.previewTimer);
            this.previewTimer = null;
            this._sendPreview();
            return;
        }
        if (this.previewTimer) return; // the pending timer sends the newest edits when it fires
        // Never more often than the last round trip took, so slow renders still land mid-drag.
        const interval = Math.max(this.options.previewIntervalMs, this.previewRoundTripMs);
        const wait = Math.max(0, this.previewLastSent + interval - performance.now());
        this.previewTimer = setTimeout(() => {
            this.previewTimer = null;
            this._sendPreview();
        }, wait);
    }

    /** Fetch the input scene and image from the route (after a page load, or to retry). */
    refresh() {
        this.previewAvailable = true;
        if (this.mode === "points") this._sendPreview([]);
        else this._schedulePreview(true);
    }

    async _sendPreview(editsOverride) {
        const fetchPreview = this.options.fetchPreview;
        const nodeId = this.options.nodeId();
        if (!fetchPreview || nodeId === null || nodeId === undefined) return;
        // The list exactly as the widget stores it (rounded): the preview shows what a run will render.
        const edits = editsOverride ?? JSON.parse(this.editsText);
        const key = JSON.stringify(edits);
        if (this.previewInflight) {
            this.previewInflight.abort();
            this.previewStats.aborted += 1;
        }
        const controller = new AbortController();
        this.previewInflight = controller;
        const seq = ++this.previewSeq;
        const started = performance.now();
        this.previewLastSent = started;
        this.previewStats.sent += 1;
        const body = { node_id: String(nodeId), edits, format: this.options.previewFormat };
        const rect = this.imageRect();
        if (rect && this.baseScene) {
            const side = Math.ceil(Math.max(rect.width, rect.height));
            if (side >= 16 && side < Math.max(this.baseScene.width, this.baseScene.height)) body.max_side = side;
        }
        let response, data;
        try {
            response = await fetchPreview(body, controller.signal);
            data = await response.json().catch(() => ({}));
        } catch (err) {
            if (err?.name === "AbortError" || controller.signal.aborted) return;
            this.previewStats.failed += 1;
            this.say(`Live preview failed: ${err?.message ?? err}`, "warn");
            return;
        } finally {
            if (this.previewInflight === controller) this.previewInflight = null;
        }
        if (controller.signal.aborted || this.destroyed) return;
        if (response.status === 409) return; // overtaken by our own newer request
        if (response.status === 404) {
            this.previewAvailable = false;
            this.previewStats.failed += 1;
            this.say(this.baseScene ? NO_PREVIEW_MESSAGE : NO_SCENE_MESSAGE, "warn");
            return;
        }
        if (!response.ok) {
            this.previewStats.failed += 1;
            this.say(`Live preview: ${data?.error ?? `HTTP ${response.status}`}`, response.status === 400 ? "error" : "warn");
            return;
        }
        this.previewAvailable = true;
        if (data.scene) {
            try {
                this.setScene(data.scene);
            } catch (err) {
                this.say(`Live preview sent a bad scene: ${err.message}`, "error");
                return;
            }
        }
        let img;
        try {
            img = await loadImage(data.image);
        } catch {
            this.previewStats.failed += 1;
            return;
        }
        if (seq < this.previewShownSeq || this.destroyed) return; // a newer image is already up
        this.previewShownSeq = seq;
        this.previewImage = img;
        this.previewKey = key;
        if (key === "[]" && !this.baseImage) this.baseImage = img;
        this.previewRoundTripMs = performance.now() - started;
        this.previewTimes.push(this.previewRoundTripMs);
        if (this.previewTimes.length > 100) this.previewTimes.shift();
        this.previewStats.received += 1;
        if (this.messageLevel !== "error") this.say("");
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
            if (this.mode === "blobs") {
                if (this.showOverlay && this.scene) this._drawBlobs(rect);
                this._drawMarquee();
            } else {
                if (this.showOverlay && this.scene) this._drawBlobs(rect, { faint: true });
                this._drawPoints(rect);
            }
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
        const fresh = this.edits.length === 0 ? this.baseImage ?? this.previewImage : this.previewImage ?? this.baseImage;
        const img = this.mode === "points" ? this.baseImage ?? this.previewImage : fresh;
        if (img) {
            ctx.imageSmoothingEnabled = rect.scale < 1;
            ctx.drawImage(img, rect.x0, rect.y0, rect.width, rect.height);
        } else {
            ctx.fillStyle = "#2a2a2a";
            ctx.fillRect(rect.x0, rect.y0, rect.width, rect.height);
        }
    }

    _drawBlobs(rect, { faint = false } = {}) {
        const { ctx } = this;
        const r = this.pxRatio;
        const scene = this.scene;
        ctx.save();
        ctx.beginPath();
        ctx.rect(rect.x0, rect.y0, rect.width, rect.height);
        ctx.clip();
        for (const id of scene.order) {
            const blob = scene.blobs[id];
            const e = G.blobEllipsePx(blob, rect, { hiddenSize: this.showHidden && !faint ? 1 : null });
            if (!e) continue;
            const selected = !faint && this.selection.has(id);
            const hovered = !faint && this.hover?.kind === "blob" && this.hover.id === id;
            ctx.beginPath();
            ctx.ellipse(e.cx, e.cy, Math.max(e.rx, 0.5), Math.max(e.ry, 0.5), e.angle, 0, 2 * Math.PI);
            if (!e.hidden && !faint) {
                ctx.fillStyle = withAlpha(blob.color, selected ? 0.28 : 0.14);
                ctx.fill();
            }
            ctx.setLineDash(e.hidden ? [4 * r, 4 * r] : []);
            if (selected) {
                ctx.strokeStyle = "rgba(0,0,0,0.7)";
                ctx.lineWidth = 4.5 * r;
                ctx.stroke();
                ctx.strokeStyle = "#ffffff";
                ctx.lineWidth = 2.5 * r;
            } else {
                ctx.strokeStyle = faint ? withAlpha(blob.color, 0.55) : blob.color;
                ctx.lineWidth = (hovered ? 2.5 : 1.5) * r;
            }
            ctx.stroke();
            ctx.setLineDash([]);
            if (!faint) this._drawLabel(String(id), e.cx, e.cy, e.hidden ? "#aaaaaa" : blob.color);
        }
        if (!faint) {
            for (const id of this.selectedIds) this._drawHandles(scene.blobs[id], rect);
        }
        ctx.restore();
    }

    _drawLabel(text, x, y, color) {
        const { ctx } = this;
        const r = this.pxRatio;
        ctx.font = `bold ${12 * r}px system-ui, sans-serif`;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.lineWidth = 3 * r;
        ctx.strokeStyle = "rgba(0,0,0,0.85)";
        ctx.strokeText(text, x, y);
        ctx.fillStyle = color;
        ctx.fillText(text, x, y);
    }

    _drawHandles(blob, rect) {
        if (!blob) return;
        const { ctx } = this;
        const r = this.pxRatio;
        const h = G.blobHandles(blob, rect, { rotateOffsetPx: ROTATE_OFFSET * r, minRadiusPx: MIN_HANDLE_RADIUS * r });
        if (!h) return;
        const active = this.gesture?.kind === "handle" && this.gesture.id === blob.id ? this.gesture.handle : null;
        const hovered = this.hover?.kind === "handle" && this.hover.id === blob.id ? this.hover.handle : null;
        ctx.strokeStyle = "rgba(255,255,255,0.8)";
        ctx.lineWidth = 1.5 * r;
        ctx.beginPath();
        ctx.moveTo(h.resize.x, h.resize.y);
        ctx.lineTo(h.rotate.x, h.rotate.y);
        ctx.stroke();
        const size = HANDLE_RADIUS * r;
        for (const name of G.HANDLES) {
            const q = h[name];
            const lit = name === active || name === hovered;
            ctx.beginPath();
            if (name === "resize") ctx.rect(q.x - size, q.y - size, 2 * size, 2 * size);
            else if (name === "aspect") {
                ctx.moveTo(q.x, q.y - size);
                ctx.lineTo(q.x + size, q.y);
                ctx.lineTo(q.x, q.y + size);
                ctx.lineTo(q.x - size, q.y);
                ctx.closePath();
            } else ctx.arc(q.x, q.y, size, 0, 2 * Math.PI);
            ctx.fillStyle = lit ? "#ffd34d" : "#ffffff";
            ctx.fill();
            ctx.strokeStyle = "#000000";
            ctx.lineWidth = 1.5 * r;
            ctx.stroke();
        }
    }

    _drawMarquee() {
        const g = this.gesture;
        if (!g || g.kind !== "marquee" || !g.moved) return;
        const { ctx } = this;
        const r = this.pxRatio;
        ctx.save();
        ctx.setLineDash([5 * r, 4 * r]);
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 1 * r;
        ctx.fillStyle = "rgba(120,170,255,0.12)";
        const x = Math.min(g.startPx.x, g.current.x), y = Math.min(g.startPx.y, g.current.y);
        const w = Math.abs(g.current.x - g.startPx.x), h = Math.abs(g.current.y - g.startPx.y);
        ctx.fillRect(x, y, w, h);
        ctx.strokeRect(x, y, w, h);
        ctx.restore();
    }

    _drawPoints(rect) {
        const { ctx } = this;
        const r = this.pxRatio;
        const { pairs, unpairedHandles } = G.pairPoints(this.handles, this.targets);
        ctx.save();
        pairs.forEach(({ handle, target }, i) => {
            const a = G.imagePxToCanvas(rect, handle.x, handle.y);
            const b = G.imagePxToCanvas(rect, target.x, target.y);
            drawArrow(ctx, a, b, r, i === this.selectedPair);
            this._drawPoint(a, "#ff4040", i === this.selectedPair);
            this._drawPoint(b, "#3d8bff", i === this.selectedPair);
            this._drawLabel(String(i), a.x + 11 * r, a.y - 11 * r, "#ffffff");
        });
        unpairedHandles.forEach((handle, j) => {
            const i = pairs.length + j;
            const a = G.imagePxToCanvas(rect, handle.x, handle.y);
            ctx.setLineDash([3 * r, 3 * r]);
            ctx.strokeStyle = "#ffffff";
            ctx.lineWidth = 1.5 * r;
            ctx.beginPath();
            ctx.arc(a.x, a.y, (POINT_RADIUS + 5) * r, 0, 2 * Math.PI);
            ctx.stroke();
            ctx.setLineDash([]);
            this._drawPoint(a, "#ff4040", i === this.selectedPair);
            this._drawLabel(String(i), a.x + 11 * r, a.y - 11 * r, "#ffffff");
        });
        ctx.restore();
    }

    _drawPoint(c, color, selected) {
        const { ctx } = this;
        const r = this.pxRatio;
        ctx.beginPath();
        ctx.arc(c.x, c.y, POINT_RADIUS * r, 0, 2 * Math.PI);
        ctx.fillStyle = color;
        ctx.fill();
        ctx.lineWidth = (selected ? 2.5 : 1.5) * r;
        ctx.strokeStyle = selected ? "#ffd34d" : "#ffffff";
        ctx.stroke();
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
        let right;
        if (this.mode === "points") {
            const pending = this.handles.length > this.targets.length ? " · click to place the target" : "";
            right = `${this.targets.length} pair${this.targets.length === 1 ? "" : "s"}${pending}`;
        } else {
            const sel = this.selection.size ? ` · selected ${this.selectedIds.join(", ")}` : "";
            right = `${this.edits.length} edit${this.edits.length === 1 ? "" : "s"}${sel}`;
        }
        ctx.textAlign = "right";
        ctx.fillStyle = "#aaaaaa";
        ctx.fillText(right, canvas.width - 6 * r, y + h / 2);
        const leftWidth = canvas.width - ctx.measureText(right).width - 18 * r;
        const hint = this.mode === "points" ? "click: handle · drag: target · right-click: menu"
            : "drag: move · wheel: size · right-click: menu";
        const text = this.message || hint;
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
     * Client coordinates of a blob's centre, or of one of its handles, in the current geometry.
     * @param {number} id
     * @param {"center" | "resize" | "aspect" | "rotate"} [where]
     */
    blobClientPoint(id, where = "center") {
        const rect = this.imageRect();
        const blob = this.scene?.blobs[id];
        if (!rect || !blob) return null;
        if (where === "center") return this.canvasToClient(G.normToCanvas(rect, blob.x, blob.y));
        const r = this.pxRatio;
        const h = G.blobHandles(blob, rect, { rotateOffsetPx: ROTATE_OFFSET * r, minRadiusPx: MIN_HANDLE_RADIUS * r });
        return h ? this.canvasToClient(h[where]) : null;
    }

    /**
     * Client coordinates of an image pixel position.
     * @param {number} ix image px
     * @param {number} iy image px
     */
    imageClientPoint(ix, iy) {
        const rect = this.imageRect();
        return rect ? this.canvasToClient(G.imagePxToCanvas(rect, ix, iy)) : null;
    }
}

// =================================================================================================
// Helpers
// =================================================================================================

function loadImage(src) {
    return new Promise((resolve, reject) => {
        const img = new Image();
        img.decoding = "async";
        img.onload = () => resolve(img);
        img.onerror = () => reject(new Error(`could not load image ${String(src).slice(0, 80)}`));
        img.src = src;
    });
}

function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
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

function drawArrow(ctx, a, b, r, selected) {
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    if (len < 1) return;
    const ux = (b.x - a.x) / len, uy = (b.y - a.y) / len;
    const head = Math.min(12 * r, len * 0.5);
    const end = { x: b.x - ux * POINT_RADIUS * r, y: b.y - uy * POINT_RADIUS * r };
    ctx.strokeStyle = selected ? "#ffd34d" : "#ffffff";
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = 2 * r;
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(end.x - ux * head * 0.6, end.y - uy * head * 0.6);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(end.x, end.y);
    ctx.lineTo(end.x - ux * head - uy * head * 0.45, end.y - uy * head + ux * head * 0.45);
    ctx.lineTo(end.x - ux * head + uy * head * 0.45, end.y - uy * head - ux * head * 0.45);
    ctx.closePath();
    ctx.fill();
}
