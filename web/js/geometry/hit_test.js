// Hit testing: which blob, handle or marquee box a canvas position picks.

import { blobContains, blobEllipsePx } from "./ellipses.js";
import { isVisible } from "./scene.js";

/**
 * The blob under a point: the front-most blob whose half-opacity outline contains it; failing
 * that, the blob whose centre is nearest, if within `pickRadiusPx`.
 * @param {SceneInfo} scene
 * @param {{x: number, y: number}} p normalized units
 * @param {{rect?: ImageRect, pickRadiusPx?: number, includeHidden?: boolean, hiddenSize?: number}} [opts]
 *   rect: needed for the centre fallback (the radius is in canvas px); pickRadiusPx: default 12;
 *   includeHidden: also pick hidden blobs, using a nominal outline of size hiddenSize (default 1)
 * @returns {number | null} blob id
 */
export function hitTestBlob(scene, p, { rect, pickRadiusPx = 12, includeHidden = false, hiddenSize = 1 } = {}) {
    const frontToBack = [...scene.order].reverse();
    const candidates = frontToBack.filter((id) => includeHidden || isVisible(scene.blobs[id]));
    for (const id of candidates) {
        if (blobContains(scene.blobs[id], p, includeHidden ? hiddenSize : undefined)) return id;
    }
    if (!rect) return null;
    let best = null, bestDist = pickRadiusPx;
    for (const id of candidates) {
        const b = scene.blobs[id];
        const d = Math.hypot((p.x - b.x) * rect.width, (p.y - b.y) * rect.height);
        // Strict < keeps the front-most blob on ties (candidates run front to back).
        if (d < bestDist || (best === null && d <= bestDist)) {
            best = id;
            bestDist = d;
        }
    }
    return best;
}

/**
 * Ids of the blobs whose centres lie in the box spanned by two normalized corners (marquee selection).
 * @param {SceneInfo} scene
 * @param {{x: number, y: number}} a normalized corner
 * @param {{x: number, y: number}} b normalized opposite corner
 * @param {{includeHidden?: boolean}} [opts]
 * @returns {number[]} ids, back to front
 */
export function blobsInBox(scene, a, b, { includeHidden = false } = {}) {
    const x0 = Math.min(a.x, b.x), x1 = Math.max(a.x, b.x);
    const y0 = Math.min(a.y, b.y), y1 = Math.max(a.y, b.y);
    return scene.order.filter((id) => {
        const bl = scene.blobs[id];
        return (includeHidden || isVisible(bl)) && bl.x >= x0 && bl.x <= x1 && bl.y >= y0 && bl.y <= y1;
    });
}

/** Names of the editor's handles on a selected blob. */
export const HANDLES = Object.freeze(["resize", "aspect", "rotate"]);

/**
 * Handle positions on a visible blob, in canvas px: resize at the major-axis end, aspect at the
 * minor-axis end, rotate beyond the major-axis end. Axes shorter than minRadiusPx are drawn at
 * minRadiusPx so that handles of tiny blobs stay apart (gestures do not depend on where they sit).
 * @param {SceneBlob} blob
 * @param {ImageRect} rect
 * @param {{rotateOffsetPx?: number, minRadiusPx?: number}} [opts] defaults 24 and 12 canvas px
 * @returns {{center: {x: number, y: number}, resize: {x: number, y: number},
 *   aspect: {x: number, y: number}, rotate: {x: number, y: number}} | null} null for a hidden blob
 */
export function blobHandles(blob, rect, { rotateOffsetPx = 24, minRadiusPx = 12 } = {}) {
    const e = blobEllipsePx(blob, rect, { hiddenSize: null });
    if (!e) return null;
    const ux = Math.cos(e.angle), uy = Math.sin(e.angle);
    const major = Math.max(e.rx, minRadiusPx), minor = Math.max(e.ry, minRadiusPx);
    return {
        center: { x: e.cx, y: e.cy },
        resize: { x: e.cx + major * ux, y: e.cy + major * uy },
        aspect: { x: e.cx - minor * uy, y: e.cy + minor * ux },
        rotate: { x: e.cx + (major + rotateOffsetPx) * ux, y: e.cy + (major + rotateOffsetPx) * uy },
    };
}

/**
 * Which handle of a blob a canvas point hits: the nearest one within radiusPx.
 * @param {SceneBlob} blob
 * @param {ImageRect} rect
 * @param {{x: number, y: number}} pPx canvas px
 * @param {{radiusPx?: number, rotateOffsetPx?: number, minRadiusPx?: number}} [opts] radiusPx default 8
 * @returns {"resize" | "aspect" | "rotate" | null}
 */
export function handleAt(blob, rect, pPx, { radiusPx = 8, ...placement } = {}) {
    const handles = blobHandles(blob, rect, placement);
    if (!handles) return null;
    let best = null, bestDist = radiusPx;
    for (const name of HANDLES) {
        const d = Math.hypot(pPx.x - handles[name].x, pPx.y - handles[name].y);
        if (d <= bestDist) {
            best = name;
            bestDist = d;
        }
    }
    return best;
}

/**
 * Which handle of the selected blobs a canvas point hits; front-most blob first.
 * @param {SceneInfo} scene
 * @param {Iterable<number>} selectedIds
 * @param {ImageRect} rect
 * @param {{x: number, y: number}} pPx canvas px
 * @param {{radiusPx?: number, rotateOffsetPx?: number, minRadiusPx?: number}} [opts]
 * @returns {{id: number, handle: "resize" | "aspect" | "rotate"} | null}
 */
export function hitTestHandles(scene, selectedIds, rect, pPx, opts = {}) {
    const selected = new Set(selectedIds);
    for (const id of [...scene.order].reverse()) {
        if (!selected.has(id)) continue;
        const handle = handleAt(scene.blobs[id], rect, pPx, opts);
        if (handle) return { id, handle };
    }
    return null;
}
