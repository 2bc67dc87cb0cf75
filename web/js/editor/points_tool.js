// The drag points tool of the editor canvas (points mode, the Drag Points node): placing and moving
// DragGAN handle/target pairs in image px, with an undo history, over the input render and a faint
// outline of its blobs. It reports each committed change through the host's onPointsChange; it edits
// no scene, so it asks for no live previews.

import { canvasToImagePx, imagePxToCanvas } from "../geometry/coords.js";
import {
    clampPoint, hitTestDragPoints, nextPointRole, pairPoints, parsePoints, removePointPair, serializePoints,
} from "../geometry/drag_points.js";
import { EditHistory } from "../geometry/serialization.js";
import { clipToImage, drawBlobOutlines, drawLabel } from "./draw.js";

// Sizes in CSS px of the widget (scaled to canvas px by the backing-store ratio).
const POINT_RADIUS = 6;
const POINT_HIT_RADIUS = 10;

// The blob tool's depth keys: nothing to do here, but still taken, so that PageUp/PageDown do not
// scroll what holds the node in one editor and not in the other.
const DEPTH_KEYS = ["PageUp", "PageDown", "]", "[", "}", "{"];

export class PointsTool {
    /**
     * @param {import("../editor_canvas.js").BlobEditorCanvas} host
     */
    constructor(host) {
        this.host = host;
        this.label = "Drag points editor";
        this.hint = "click: handle · drag: target · right-click: menu";
        this.hasEdits = false;          // the picture is always the input render
        this.previewEdits = [];         // a refresh asks the route for the input scene and its image
        this.history = new EditHistory({ handles: [], targets: [] });
        this.handles = [];
        this.targets = [];
        this.selectedPair = -1;
    }

    /**
     * Load stored points: SAM3-style JSON in image px.
     * @param {string} handlesText
     * @param {string} targetsText
     * @returns {boolean} whether both parsed
     */
    setPointsText(handlesText, targetsText) {
        try {
            this.handles = parsePoints(handlesText, "handles");
            this.targets = parsePoints(targetsText, "targets");
        } catch (err) {
            this.host.say(err.message, "error");
            this.host.render();
            return false;
        }
        this.history.reset({ handles: this.handles, targets: this.targets });
        this.selectedPair = -1;
        this.host.render();
        return true;
    }

    /** Points as stored in the widgets. */
    get pointsText() {
        return { handles: serializePoints(this.handles), targets: serializePoints(this.targets) };
    }

    onScene() {}

    _commit() {
        // Store exactly what the widgets will hold (whole pixels), so undo, redo and reloads agree.
        const rounded = {
            handles: parsePoints(serializePoints(this.handles)),
            targets: parsePoints(serializePoints(this.targets)),
        };
        this.handles = rounded.handles;
        this.targets = rounded.targets;
        const changed = this.history.push(rounded);
        this.host.render();
        if (changed) this.host.options.onPointsChange(this.pointsText);
        return changed;
    }

    _restore(state) {
        if (!state) return false;
        this.handles = state.handles;
        this.targets = state.targets;
        this.selectedPair = -1;
        this.host.render();
        this.host.options.onPointsChange(this.pointsText);
        return true;
    }

    // =============================================================================================
    // Actions (keys and menu)
    // =============================================================================================

    undo() {
        return this._restore(this.history.undo());
    }

    redo() {
        return this._restore(this.history.redo());
    }

    /** Remove every point, after asking; undoable. */
    reset() {
        if (!this.handles.length && !this.targets.length) return false;
        if (!this.host.options.confirm("Remove all drag points?")) return false;
        this.handles = [];
        this.targets = [];
        this.selectedPair = -1;
        return this._commit();
    }

    clearSelection() {
        this.selectedPair = -1;
    }

    removeSelectedPair() {
        if (this.selectedPair < 0) return false;
        const next = removePointPair(this.handles, this.targets, this.selectedPair);
        this.handles = next.handles;
        this.targets = next.targets;
        this.selectedPair = -1;
        return this._commit();
    }

    // =============================================================================================
    // Pointer, menu and keys (the shell's tool interface)
    // =============================================================================================

    _pointAt(p, rect) {
        return hitTestDragPoints({ handles: this.handles, targets: this.targets }, p, rect,
            { radiusPx: POINT_HIT_RADIUS * this.host.pxRatio });
    }

    /** Image px under p, clamped into the image. */
    _imagePoint(p, rect) {
        const size = this.host.imageSize();
        return clampPoint(canvasToImagePx(rect, p.x, p.y), size.width, size.height);
    }

    onPointerDown(e, p, rect) {
        const hit = this._pointAt(p, rect);
        if (hit) {
            this.selectedPair = hit.index;
            return { kind: "point", list: hit.list, index: hit.index };
        }
        const at = this._imagePoint(p, rect);
        if (nextPointRole(this.handles, this.targets) === "target") {
            // A handle is waiting for its target: this click places it (and a drag adjusts it).
            this.targets = [...this.targets, at];
            this.selectedPair = this.targets.length - 1;
            return { kind: "point", list: "targets", index: this.targets.length - 1, placed: true };
        }
        this.handles = [...this.handles, at];
        this.selectedPair = this.handles.length - 1;
        return { kind: "new-pair", index: this.handles.length - 1, placed: true };
    }

    onPointerMove(g, p, rect) {
        const at = this._imagePoint(p, rect);
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
        this.host.render();
    }

    onPointerUp(g) {
        if (g.moved || g.placed) this._commit();
        this.host.render();
    }

    onPointerCancel() {
        this._restore(this.history.current);
    }

    hoverAt(p, rect) {
        return this._pointAt(p, rect) ? { kind: "point" } : null;
    }

    cursor(hover) {
        return hover ? "move" : "crosshair";
    }

    contextMenu(p, rect) {
        const hit = rect ? this._pointAt(p, rect) : null;
        if (hit) this.selectedPair = hit.index;
        this.host.render();
        const { host } = this;
        return [
            { label: "Remove pair", hint: "Del", disabled: !hit, action: () => this.removeSelectedPair() },
            { separator: true },
            { label: "Undo", hint: "Ctrl+Z", disabled: !this.history.canUndo, action: () => this.undo() },
            { label: "Redo", hint: "Ctrl+Shift+Z", disabled: !this.history.canRedo, action: () => this.redo() },
            { label: "Remove all points", hint: "R", disabled: !this.handles.length && !this.targets.length,
                action: () => this.reset() },
            { separator: true },
            { label: host.showOverlay ? "Hide blobs" : "Show blobs", hint: "O", action: () => host.toggleOverlay() },
        ];
    }

    onKey(e, key, ctrl) {
        if (ctrl) return null;
        if (key === "Delete" || key === "Backspace") return () => this.removeSelectedPair();
        if (DEPTH_KEYS.includes(key)) return () => {};
        return null;
    }

    // =============================================================================================
    // Drawing
    // =============================================================================================

    draw(ctx, rect) {
        const { host } = this;
        const r = host.pxRatio;
        if (host.showOverlay && host.baseScene) {
            clipToImage(ctx, rect);
            drawBlobOutlines(ctx, r, host.baseScene, rect, { faint: true });
            ctx.restore();
        }
        const { pairs, unpairedHandles } = pairPoints(this.handles, this.targets);
        ctx.save();
        pairs.forEach(({ handle, target }, i) => {
            const a = imagePxToCanvas(rect, handle.x, handle.y);
            const b = imagePxToCanvas(rect, target.x, target.y);
            drawArrow(ctx, a, b, r, i === this.selectedPair);
            drawPoint(ctx, r, a, "#ff4040", i === this.selectedPair);
            drawPoint(ctx, r, b, "#3d8bff", i === this.selectedPair);
            drawLabel(ctx, r, String(i), a.x + 11 * r, a.y - 11 * r, "#ffffff");
        });
        unpairedHandles.forEach((handle, j) => {
            const i = pairs.length + j;
            const a = imagePxToCanvas(rect, handle.x, handle.y);
            ctx.setLineDash([3 * r, 3 * r]);
            ctx.strokeStyle = "#ffffff";
            ctx.lineWidth = 1.5 * r;
            ctx.beginPath();
            ctx.arc(a.x, a.y, (POINT_RADIUS + 5) * r, 0, 2 * Math.PI);
            ctx.stroke();
            ctx.setLineDash([]);
            drawPoint(ctx, r, a, "#ff4040", i === this.selectedPair);
            drawLabel(ctx, r, String(i), a.x + 11 * r, a.y - 11 * r, "#ffffff");
        });
        ctx.restore();
    }

    /** Right side of the status line. */
    summary() {
        const pending = this.handles.length > this.targets.length ? " · click to place the target" : "";
        return `${this.targets.length} pair${this.targets.length === 1 ? "" : "s"}${pending}`;
    }

    destroy() {}
}

function drawPoint(ctx, r, c, color, selected) {
    ctx.beginPath();
    ctx.arc(c.x, c.y, POINT_RADIUS * r, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = (selected ? 2.5 : 1.5) * r;
    ctx.strokeStyle = selected ? "#ffd34d" : "#ffffff";
    ctx.stroke();
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
