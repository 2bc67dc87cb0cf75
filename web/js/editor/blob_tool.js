// The blob tool of the editor canvas (blobs mode, the Edit Blob node): selecting blobs and turning
// drags, handle drags, the wheel and keys into an edit list with an undo history. The canvas shell
// (editor_canvas.js) gives it pointer, wheel and key input and draws the image under it; it reports
// each committed list through the host's onEditsChange and asks for live previews while it changes.

import { canvasToNorm, normToCanvas, pixelDeltaToNorm } from "../geometry/coords.js";
import {
    GESTURE_SCALE_RANGE, handleDragEdit, isIdentityEdit, moveEdits, pushOrMergeMany, wheelScale,
} from "../geometry/gestures.js";
import { blobHandles, blobsInBox, HANDLES, hitTestBlob, hitTestHandles } from "../geometry/hit_test.js";
import { applyEdits } from "../geometry/edit_list.js";
import { cloneScene, isVisible } from "../geometry/scene.js";
import { EditHistory, parseEdits, roundTo, serializeEdits } from "../geometry/serialization.js";
import { clipToImage, drawBlobOutlines } from "./draw.js";

// Sizes in CSS px of the widget (scaled to canvas px by the backing-store ratio).
const HANDLE_RADIUS = 6;
const HANDLE_HIT_RADIUS = 9;
const ROTATE_OFFSET = 24;
const MIN_HANDLE_RADIUS = 12;
const PICK_RADIUS = 10;

const DUPLICATE_OFFSET = 0.04;      // normalized units, down and right, so the copy is visibly apart
const NUDGE_PX = 1;                 // arrow keys move the selection by this many image px (x10 with Shift)
const REVIVE_SIZE = 2;              // size logit given to a revived blob that was hidden in the input too
const WHEEL_SESSION_MS = 400;       // wheel notches closer together than this are one undo step
const WHEEL_LINE_PX = 16;           // WheelEvent.deltaMode 1 (lines) -> px
const ROTATE_SNAP_DEGREES = 15;     // Shift while rotating

const HANDLE_CURSORS = { resize: "nwse-resize", aspect: "ew-resize", rotate: "grab" };

export class BlobTool {
    /**
     * @param {import("../editor_canvas.js").BlobEditorCanvas} host
     */
    constructor(host) {
        this.host = host;
        this.label = "Blob editor";
        this.hint = "drag: move · wheel: size · right-click: menu";
        this.history = new EditHistory([]);
        this.edits = [];                // live edit list (history.current, or a gesture in progress)
        this.editsError = null;         // why the stored edits do not apply to the scene, if they do not
        this.scene = null;              // the host's base scene with the live edits applied
        this.selection = new Set();
        this.showHidden = false;
        this.wheel = null;              // {base, ids, scale, timer}
    }

    // =============================================================================================
    // Data in and out
    // =============================================================================================

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
            edits = parseEdits(text);
        } catch (err) {
            this.editsError = err.message;
            this.host.say(err.message, "error");
            this.host.render();
            return false;
        }
        if (resetHistory) this.history.reset(edits);
        else this.history.push(edits);
        this.edits = this.history.current;
        this._recompute();
        this.host.render();
        return true;
    }

    /** The edit list as stored in the widget. */
    get editsText() {
        return serializeEdits(this.edits);
    }

    /** Whether the picture is the preview of edits rather than the input render. */
    get hasEdits() {
        return this.edits.length > 0;
    }

    /** The list exactly as the widget stores it (rounded): the preview shows what a run will render. */
    get previewEdits() {
        return JSON.parse(this.editsText);
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
        this.host.render();
    }

    onScene() {
        this._recompute();
    }

    /** Apply the live edits to the base scene (the geometry drawn and hit-tested). */
    _recompute() {
        const { host } = this;
        if (!host.baseScene) {
            this.scene = null;
            return;
        }
        try {
            this.scene = applyEdits(host.baseScene, this.edits);
            if (this.editsError) {
                this.editsError = null;
                if (host.messageLevel === "error") host.say("");
            }
        } catch (err) {
            // Edits for another scene (e.g. the input changed): show the input, keep the text as it is.
            this.scene = cloneScene(host.baseScene);
            this.editsError = err.message;
            host.say(`${err.message} (the edits do not fit this scene)`, "error");
        }
        for (const id of this.selection) {
            if (id >= this.scene.blobs.length) this.selection.delete(id);
        }
    }

    /** Set the live edits during a gesture (not yet in the history). */
    _setLive(edits) {
        this.edits = edits;
        this._recompute();
        this.host.render();
        this.host.preview.schedule(false);
    }

    /** Commit an edit list: one undo step, reported to the host, previewed. */
    _commit(edits) {
        // Store exactly what the widget will hold (rounded), so undo, redo and reloads agree.
        const changed = this.history.push(JSON.parse(serializeEdits(edits)));
        this.edits = this.history.current;
        this._recompute();
        this.host.render();
        if (changed) this.host.options.onEditsChange(this.editsText);
        this.host.preview.schedule(true);
        return changed;
    }

    // =============================================================================================
    // Actions (keys and menu)
    // =============================================================================================

    undo() {
        this._endWheelSession();
        if (!this.history.undo()) return false;
        this._afterHistoryMove();
        return true;
    }

    redo() {
        this._endWheelSession();
        if (!this.history.redo()) return false;
        this._afterHistoryMove();
        return true;
    }

    _afterHistoryMove() {
        this.edits = this.history.current;
        this._recompute();
        this.host.render();
        this.host.options.onEditsChange(this.editsText);
        this.host.preview.schedule(true);
    }

    /** Remove every edit, after asking; undoable. */
    reset() {
        if (!this.edits.length) return false;
        if (!this.host.options.confirm("Reset: remove all edits of this node? (Undo brings them back.)")) return false;
        this.selection.clear();
        return this._commit([]);
    }

    clearSelection() {
        this.selection.clear();
    }

    /** Hide the selected visible blobs (op "remove"). */
    removeSelected() {
        const ids = this._selectedWhere((b) => isVisible(b));
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
        this.host.render();
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
        const ids = this._selectedWhere((b) => !isVisible(b));
        if (!ids.length) return false;
        const edits = ids.map((blob) => {
            const original = this.host.baseScene.blobs[blob];
            const size = original && isVisible(original) ? original.size : REVIVE_SIZE;
            return { op: "set_size", blob, size: roundTo(size) };
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
        const base = this.host.baseScene;
        if (!ids.length || !base) return false;
        const group = moveEdits(ids, dxPx / base.width, dyPx / base.height);
        return this._commit(pushOrMergeMany(this.edits, group));
    }

    toggleHidden() {
        this.showHidden = !this.showHidden;
        if (!this.showHidden && this.scene) {
            for (const id of [...this.selection]) if (!isVisible(this.scene.blobs[id])) this.selection.delete(id);
        }
        this.host.say(this.showHidden ? "Showing hidden blobs (dashed): select one and Revive it" : "");
        this.host.render();
    }

    selectAll() {
        if (!this.scene) return;
        this.select(this.scene.order.filter((id) => this.showHidden || isVisible(this.scene.blobs[id])));
    }

    _selectedWhere(keep) {
        if (!this.scene) return [];
        return this.selectedIds.filter((id) => this.scene.blobs[id] && keep(this.scene.blobs[id]));
    }

    // =============================================================================================
    // Pointer, wheel, menu and keys (the shell's tool interface)
    // =============================================================================================

    /** The handle of a selected blob under p, if the overlay shows handles. */
    _handleAt(p, rect) {
        if (!this.host.showOverlay) return null;
        const r = this.host.pxRatio;
        return hitTestHandles(this.scene, this.selection, rect, p, {
            radiusPx: HANDLE_HIT_RADIUS * r, rotateOffsetPx: ROTATE_OFFSET * r, minRadiusPx: MIN_HANDLE_RADIUS * r,
        });
    }

    _blobAt(p, rect, { includeHidden = this.showHidden } = {}) {
        return hitTestBlob(this.scene, canvasToNorm(rect, p.x, p.y), {
            rect, pickRadiusPx: PICK_RADIUS * this.host.pxRatio, includeHidden,
        });
    }

    onPointerDown(e, p, rect) {
        this._endWheelSession();
        if (!this.scene) return null;
        const base = this.history.current;
        const handleHit = this._handleAt(p, rect);
        if (handleHit) {
            return { kind: "handle", base, id: handleHit.id, handle: handleHit.handle, blob: this.scene.blobs[handleHit.id] };
        }
        const id = this._blobAt(p, rect);
        if (id === null) {
            if (!e.shiftKey) this.selection.clear();
            return { kind: "marquee", base, current: p, additive: e.shiftKey, before: new Set(this.selection) };
        }
        if (e.shiftKey) {
            if (this.selection.has(id)) this.selection.delete(id);
            else this.selection.add(id);
            return { kind: "move", base, ids: this.selectedIds, clickedId: id, toggled: true };
        }
        if (!this.selection.has(id)) this.selection = new Set([id]);
        return { kind: "move", base, ids: this.selectedIds, clickedId: id, toggled: false };
    }

    onPointerMove(g, p, rect, e) {
        if (g.kind === "marquee") {
            g.current = p;
            const found = blobsInBox(this.scene, canvasToNorm(rect, g.startPx.x, g.startPx.y),
                canvasToNorm(rect, p.x, p.y), { includeHidden: this.showHidden });
            this.selection = new Set([...(g.additive ? g.before : []), ...found]);
            this.host.render();
            return;
        }
        let group;
        if (g.kind === "move") {
            if (!g.ids.length) return;
            const d = pixelDeltaToNorm(rect, p.x - g.startPx.x, p.y - g.startPx.y);
            group = moveEdits(g.ids, d.dx, d.dy);
        } else {
            group = [handleDragEdit(g.blob, g.handle, g.startPx, p, rect,
                { snapDegrees: e.shiftKey ? ROTATE_SNAP_DEGREES : 0 })];
        }
        const edits = group.every((edit) => isIdentityEdit(edit)) ? g.base : pushOrMergeMany(g.base, group);
        this._setLive(edits);
    }

    onPointerUp(g) {
        if (g.kind === "marquee") {
            this.host.render();
            return;
        }
        if (!g.moved) {
            // A plain click on a blob of a multi-selection selects just that blob.
            if (g.kind === "move" && !g.toggled && g.clickedId !== undefined) this.selection = new Set([g.clickedId]);
            this.host.render();
            return;
        }
        this._commit(this.edits);
    }

    onPointerCancel() {
        this._setLive(this.history.current);
    }

    hoverAt(p, rect) {
        if (!this.scene) return null;
        const handleHit = this._handleAt(p, rect);
        if (handleHit) return { kind: "handle", ...handleHit };
        const id = this._blobAt(p, rect);
        return id === null ? null : { kind: "blob", id };
    }

    cursor(hover) {
        if (!hover) return "default";
        return hover.kind === "handle" ? HANDLE_CURSORS[hover.handle] : "move";
    }

    onWheel(e, p, rect) {
        if (!this.scene) return;
        const under = this._blobAt(p, rect, { includeHidden: false });
        // Resize the selection; without one, the blob under the pointer; over nothing, let the
        // graph have the wheel (zoom) as usual.
        let ids = this.selectedIds;
        if (!ids.length && under !== null) ids = [under];
        ids = ids.filter((id) => isVisible(this.scene.blobs[id]));
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
        session.scale = Math.min(Math.max(session.scale * wheelScale(deltaY), GESTURE_SCALE_RANGE[0]),
            GESTURE_SCALE_RANGE[1]);
        const group = ids.map((blob) => ({ op: "resize", blob, scale: session.scale }));
        this._setLive(pushOrMergeMany(session.base, group));
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

    contextMenu(p, rect) {
        if (this.scene && rect) {
            const id = this._blobAt(p, rect);
            if (id !== null && !this.selection.has(id)) this.selection = new Set([id]);
            this.host.render();
        }
        const sel = this.scene ? this.selectedIds : [];
        const visible = sel.filter((id) => isVisible(this.scene.blobs[id]));
        const hidden = sel.filter((id) => !isVisible(this.scene.blobs[id]));
        const none = sel.length === 0;
        const { host } = this;
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
            { label: host.showOverlay ? "Hide overlay" : "Show overlay", hint: "O", action: () => host.toggleOverlay() },
            { label: this.showHidden ? "Hide hidden blobs" : "Show hidden blobs", hint: "H",
                action: () => this.toggleHidden() },
        );
        return items;
    }

    onKey(e, key, ctrl) {
        if (ctrl) {
            if (key === "d") return () => this.duplicateSelected();
            if (key === "a") return () => this.selectAll();
            return null;
        }
        const step = e.shiftKey ? 10 * NUDGE_PX : NUDGE_PX;
        switch (key) {
            case "Delete":
            case "Backspace":
                return () => this.removeSelected();
            case "PageUp":
                return () => this.depthSelected(e.shiftKey ? "to_front" : "forward");
            case "PageDown":
                return () => this.depthSelected(e.shiftKey ? "to_back" : "backward");
            case "]":
                return () => this.depthSelected("forward");
            case "[":
                return () => this.depthSelected("backward");
            case "}":
                return () => this.depthSelected("to_front");
            case "{":
                return () => this.depthSelected("to_back");
            case "ArrowLeft":
                return () => this.nudgeSelected(-step, 0);
            case "ArrowRight":
                return () => this.nudgeSelected(step, 0);
            case "ArrowUp":
                return () => this.nudgeSelected(0, -step);
            case "ArrowDown":
                return () => this.nudgeSelected(0, step);
            case "h":
                return () => this.toggleHidden();
            default:
                return null;
        }
    }

    // =============================================================================================
    // Drawing
    // =============================================================================================

    draw(ctx, rect) {
        const { host } = this;
        if (host.showOverlay && this.scene) {
            clipToImage(ctx, rect);
            drawBlobOutlines(ctx, host.pxRatio, this.scene, rect,
                { showHidden: this.showHidden, selection: this.selection, hover: host.hover });
            for (const id of this.selectedIds) this._drawHandles(ctx, this.scene.blobs[id], rect);
            ctx.restore();
        }
        this._drawMarquee(ctx);
    }

    _handles(blob, rect) {
        const r = this.host.pxRatio;
        return blobHandles(blob, rect, { rotateOffsetPx: ROTATE_OFFSET * r, minRadiusPx: MIN_HANDLE_RADIUS * r });
    }

    _drawHandles(ctx, blob, rect) {
        if (!blob) return;
        const r = this.host.pxRatio;
        const h = this._handles(blob, rect);
        if (!h) return;
        const { gesture, hover } = this.host;
        const active = gesture?.kind === "handle" && gesture.id === blob.id ? gesture.handle : null;
        const hovered = hover?.kind === "handle" && hover.id === blob.id ? hover.handle : null;
        ctx.strokeStyle = "rgba(255,255,255,0.8)";
        ctx.lineWidth = 1.5 * r;
        ctx.beginPath();
        ctx.moveTo(h.resize.x, h.resize.y);
        ctx.lineTo(h.rotate.x, h.rotate.y);
        ctx.stroke();
        const size = HANDLE_RADIUS * r;
        for (const name of HANDLES) {
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

    _drawMarquee(ctx) {
        const g = this.host.gesture;
        if (!g || g.kind !== "marquee" || !g.moved) return;
        const r = this.host.pxRatio;
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

    /** Right side of the status line. */
    summary() {
        const sel = this.selection.size ? ` · selected ${this.selectedIds.join(", ")}` : "";
        return `${this.edits.length} edit${this.edits.length === 1 ? "" : "s"}${sel}`;
    }

    destroy() {
        clearTimeout(this.wheel?.timer);
    }

    /**
     * Client coordinates of a blob's centre, or of one of its handles, in the current geometry
     * (for synthesized pointer input in tests).
     * @param {number} id
     * @param {"center" | "resize" | "aspect" | "rotate"} [where]
     */
    blobClientPoint(id, where = "center") {
        const rect = this.host.imageRect();
        const blob = this.scene?.blobs[id];
        if (!rect || !blob) return null;
        if (where === "center") return this.host.canvasToClient(normToCanvas(rect, blob.x, blob.y));
        const h = this._handles(blob, rect);
        return h ? this.host.canvasToClient(h[where]) : null;
    }
}
