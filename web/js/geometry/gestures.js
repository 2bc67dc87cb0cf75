// Gestures -> edits, and merging: what a drag, a handle or the wheel amounts to in the edit list.
//
// Recommended use (no drift, no hundreds of edits): at pointerdown keep `base = history.current` and
// `start = applyEdits(input, base)`; at every pointermove compute the gesture's TOTAL edit from
// `start` and the pointerdown position, then `edits = pushOrMergeMany(base, gestureEdits)`; at
// pointerup `history.push(edits)`.

import { normToCanvas } from "./coords.js";
import { covAxes } from "./covariance.js";
import { opSpec } from "./edit_ops.js";
import { blobEllipsePx } from "./ellipses.js";
import { HANDLES } from "./hit_test.js";
import { isVisible } from "./scene.js";
import { clamp, describe } from "./util.js";

/** Smallest and largest scale one resize gesture produces (keeps sizes positive and sane). */
export const GESTURE_SCALE_RANGE = Object.freeze([0.05, 20]);

/**
 * Move edits for a drag of the selected blobs.
 * @param {Iterable<number>} ids blob ids (one move each, in the given order)
 * @param {number} dx normalized units (see pixelDeltaToNorm)
 * @param {number} dy normalized units
 * @returns {Edit[]}
 */
export function moveEdits(ids, dx, dy) {
    return [...ids].map((blob) => ({ op: "move", blob, dx, dy }));
}

/**
 * Resize scale for a wheel event: exp(-deltaY * sensitivity), so wheel up (deltaY < 0) grows.
 * @param {number} deltaY WheelEvent.deltaY in CSS px (multiply line-mode deltas by ~16 first)
 * @param {{sensitivity?: number}} [opts] per CSS px, default 0.0015 (a 100 px notch: x0.86 / x1.16)
 * @returns {number} scale > 0
 */
export function wheelScale(deltaY, { sensitivity = 0.0015 } = {}) {
    return Math.exp(-deltaY * sensitivity);
}

/**
 * Resize edits for a wheel event over the selected blobs; hidden blobs are skipped (they cannot be resized).
 * @param {SceneInfo} scene the scene as currently previewed
 * @param {Iterable<number>} ids
 * @param {number} deltaY WheelEvent.deltaY in CSS px
 * @param {{sensitivity?: number}} [opts]
 * @returns {Edit[]}
 */
export function wheelResizeEdits(scene, ids, deltaY, opts = {}) {
    const scale = wheelScale(deltaY, opts);
    return [...ids].filter((id) => isVisible(scene.blobs[id])).map((blob) => ({ op: "resize", blob, scale }));
}

/**
 * The single edit a handle drag amounts to, from the pointerdown position to the current one.
 * - resize: scale = |current - centre| / |start - centre| (canvas px), clamped to GESTURE_SCALE_RANGE.
 * - aspect: the minor semi-axis follows the pointer's projection on the minor axis (ratio r, aspect
 *   = 1/r^2), clamped so the major axis stays the major axis; hence consecutive reshapes merge exactly.
 * - rotate: the angle swept around the centre, measured in normalized units (so the handle stays on
 *   the pointer's ray even on a non-square image), in (-180, 180], optionally snapped.
 * @param {SceneBlob} blob the blob as it was at pointerdown (visible)
 * @param {"resize" | "aspect" | "rotate"} handle
 * @param {{x: number, y: number}} startPx pointerdown position, canvas px
 * @param {{x: number, y: number}} currentPx current pointer position, canvas px
 * @param {ImageRect} rect
 * @param {{snapDegrees?: number}} [opts] snapDegrees: round rotations to this step (e.g. 15 with Shift)
 * @returns {Edit}
 */
export function handleDragEdit(blob, handle, startPx, currentPx, rect, { snapDegrees = 0 } = {}) {
    const c = normToCanvas(rect, blob.x, blob.y);
    const sx = startPx.x - c.x, sy = startPx.y - c.y;
    const qx = currentPx.x - c.x, qy = currentPx.y - c.y;
    switch (handle) {
        case "resize": {
            const from = Math.hypot(sx, sy);
            const scale = from > 1e-9 ? Math.hypot(qx, qy) / from : 1;
            return { op: "resize", blob: blob.id, scale: clamp(scale, ...GESTURE_SCALE_RANGE) };
        }
        case "aspect": {
            const e = blobEllipsePx(blob, rect);
            const mx = -Math.sin(e.angle), my = Math.cos(e.angle); // minor axis direction on screen
            const from = sx * mx + sy * my;
            const r = Math.abs(from) > 1e-9 ? Math.max((qx * mx + qy * my) / from, 1e-3) : 1;
            // Keep major * aspect >= minor / aspect (with a margin) so the axes never swap.
            const { major, minor } = covAxes(blob.cov);
            const lowest = Math.min(1, Math.sqrt((minor / major) * (1 + 1e-3)));
            return { op: "reshape", blob: blob.id, aspect: clamp(1 / (r * r), lowest, 1e4) };
        }
        case "rotate": {
            // Angles in normalized units: the normalized -> px map is linear, so parallel rays stay parallel.
            const a0 = Math.atan2(sy / rect.height, sx / rect.width);
            const a1 = Math.atan2(qy / rect.height, qx / rect.width);
            let degrees = wrapDegrees(((a1 - a0) * 180) / Math.PI);
            if (snapDegrees > 0) degrees = wrapDegrees(Math.round(degrees / snapDegrees) * snapDegrees);
            return { op: "rotate", blob: blob.id, degrees };
        }
        default:
            throw new Error(`handleDragEdit: handle must be one of ${HANDLES.join(", ")}; got ${describe(handle)}`);
    }
}

function wrapDegrees(d) {
    let w = d % 360;
    if (w > 180) w -= 360;
    if (w <= -180) w += 360;
    return w === 0 ? 0 : w; // no -0
}

/**
 * Merge `next` into `prev` when applying the merged edit equals applying both in turn, as the op's
 * `merge` in edit_ops.js says (moves add, scales and aspects multiply, rotations add, the later
 * set_size wins); same op and same blob only.
 * @param {Edit} prev
 * @param {Edit} next
 * @returns {Edit | null} the merged edit, or null when they do not merge
 */
export function mergeEdits(prev, next) {
    if (!prev || !next || prev.op !== next.op || prev.blob !== next.blob) return null;
    return opSpec(next.op)?.merge?.(prev, next) ?? null;
}

/**
 * Append an edit, or merge it into the last edit (see mergeEdits). Pure: returns a new list.
 * @param {Edit[]} edits
 * @param {Edit} edit
 * @returns {Edit[]}
 */
export function pushOrMerge(edits, edit) {
    const merged = edits.length ? mergeEdits(edits[edits.length - 1], edit) : null;
    return merged ? [...edits.slice(0, -1), merged] : [...edits, edit];
}

/**
 * Append a group of edits from one gesture (e.g. a move of 3 selected blobs), merging them
 * element-wise into the last group when the last group.length edits all merge with them in order;
 * otherwise append them all. Pure: returns a new list.
 * @param {Edit[]} edits
 * @param {Edit[]} group
 * @returns {Edit[]}
 */
export function pushOrMergeMany(edits, group) {
    const n = group.length;
    if (n === 0) return [...edits];
    if (edits.length >= n) {
        const tail = edits.slice(edits.length - n);
        const merged = tail.map((prev, i) => mergeEdits(prev, group[i]));
        if (merged.every(Boolean)) return [...edits.slice(0, edits.length - n), ...merged];
    }
    return [...edits, ...group];
}

/**
 * Whether an edit changes nothing (move by 0, resize/reshape by 1, rotate by a multiple of 180).
 * A gesture that ends as a no-op should not be committed.
 * @param {Edit} edit
 * @param {number} [tolerance] absolute, default 1e-9
 * @returns {boolean}
 */
export function isIdentityEdit(edit, tolerance = 1e-9) {
    return opSpec(edit.op)?.isIdentity?.(edit, tolerance) ?? false;
}
