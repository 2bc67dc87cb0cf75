// Drawing that both tools of the editor canvas use: blob outlines (the points tool shows them faintly
// under its points) and outlined labels. `r` is the canvas px per CSS px of the widget.

import { blobEllipsePx } from "../geometry/ellipses.js";

/** ctx.save() and clip to the image; the caller restores. */
export function clipToImage(ctx, rect) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(rect.x0, rect.y0, rect.width, rect.height);
    ctx.clip();
}

/**
 * The half-opacity outline of every blob, back to front, with its id; `faint` draws only thin
 * outlines of the visible blobs (a backdrop for another tool).
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} r canvas px per CSS px
 * @param {import("../geometry/scene.js").SceneInfo} scene
 * @param {import("../geometry/coords.js").ImageRect} rect
 * @param {{faint?: boolean, showHidden?: boolean, selection?: Set<number>, hover?: object | null}} [opts]
 */
export function drawBlobOutlines(ctx, r, scene, rect, { faint = false, showHidden = false, selection = null,
    hover = null } = {}) {
    for (const id of scene.order) {
        const blob = scene.blobs[id];
        const e = blobEllipsePx(blob, rect, { hiddenSize: showHidden && !faint ? 1 : null });
        if (!e) continue;
        const selected = !faint && !!selection?.has(id);
        const hovered = !faint && hover?.kind === "blob" && hover.id === id;
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
        if (!faint) drawLabel(ctx, r, String(id), e.cx, e.cy, e.hidden ? "#aaaaaa" : blob.color);
    }
}

/** Text with a dark outline, readable over any image. */
export function drawLabel(ctx, r, text, x, y, color) {
    ctx.font = `bold ${12 * r}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3 * r;
    ctx.strokeStyle = "rgba(0,0,0,0.85)";
    ctx.strokeText(text, x, y);
    ctx.fillStyle = color;
    ctx.fillText(text, x, y);
}

function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}
