// DragGAN points (Drag Points node): handles and targets in image px, SAM3-style JSON.

import { imagePxToCanvas } from "./coords.js";
import { roundTo } from "./serialization.js";
import { clamp, describe, isPlainObject } from "./util.js";

/**
 * A point in image px (continuous: x_px = x_norm * image width; x right, y down).
 * @typedef {{x: number, y: number}} ImagePoint
 */

/**
 * Parse a points widget value: JSON [{"x": .., "y": ..}, ...] as ComfyUI point editors (SAM3,
 * KJNodes) write it; [[x, y], ...] is accepted too. "", whitespace and "[]" give [].
 * @param {string} text
 * @param {string} [name] widget name for messages (default "points")
 * @returns {ImagePoint[]} image px
 * @throws {Error} naming the widget, the point's index and the expected form
 */
export function parsePoints(text, name = "points") {
    if (text === undefined || text === null || String(text).trim() === "") return [];
    let data;
    try {
        data = JSON.parse(String(text));
    } catch (err) {
        throw new Error(`${name}: not valid JSON (${err.message}); expected [{"x": 10, "y": 20}, ...] in image pixels`);
    }
    if (!Array.isArray(data)) throw new Error(`${name}: expected a JSON list of points; got ${describe(data)}`);
    return data.map((p, i) => {
        const [x, y] = Array.isArray(p) ? p : isPlainObject(p) ? [p.x, p.y] : [undefined, undefined];
        if (!Number.isFinite(x) || !Number.isFinite(y) || (Array.isArray(p) && p.length !== 2)) {
            throw new Error(`${name}[${i}]: expected {"x": number, "y": number} in image pixels; got ${describe(p)}`);
        }
        return { x, y };
    });
}

/**
 * Points as compact SAM3-style JSON [{"x":12,"y":40}], rounded to `decimals` (default 0: whole
 * image pixels, which SAM3-style consumers expect).
 * @param {ImagePoint[]} points image px
 * @param {{decimals?: number}} [opts]
 * @returns {string}
 */
export function serializePoints(points, { decimals = 0 } = {}) {
    return JSON.stringify(points.map((p) => ({ x: roundTo(p.x, decimals), y: roundTo(p.y, decimals) })));
}

/**
 * Pair handles with targets by index (handles[i] -> targets[i]); the surplus of the longer list
 * (normally one handle still waiting for its target) is returned apart.
 * @param {ImagePoint[]} handles image px
 * @param {ImagePoint[]} targets image px
 * @returns {{pairs: {handle: ImagePoint, target: ImagePoint}[], unpairedHandles: ImagePoint[],
 *   unpairedTargets: ImagePoint[]}}
 */
export function pairPoints(handles, targets) {
    const n = Math.min(handles.length, targets.length);
    const pairs = [];
    for (let i = 0; i < n; i++) pairs.push({ handle: handles[i], target: targets[i] });
    return { pairs, unpairedHandles: handles.slice(n), unpairedTargets: targets.slice(n) };
}

/**
 * What the next click places: a handle when every handle has its target, else that handle's target.
 * @param {ImagePoint[]} handles
 * @param {ImagePoint[]} targets
 * @returns {"handle" | "target"}
 */
export function nextPointRole(handles, targets) {
    return handles.length > targets.length ? "target" : "handle";
}

/**
 * Remove the pair at `index` (its handle and, when it has one, its target). Pure.
 * @param {ImagePoint[]} handles
 * @param {ImagePoint[]} targets
 * @param {number} index
 * @returns {{handles: ImagePoint[], targets: ImagePoint[]}}
 */
export function removePointPair(handles, targets, index) {
    return { handles: handles.filter((_, i) => i !== index), targets: targets.filter((_, i) => i !== index) };
}

/**
 * Clamp a point into the image, [0, width] x [0, height] image px.
 * @param {ImagePoint} p image px
 * @param {number} width image px
 * @param {number} height image px
 * @returns {ImagePoint}
 */
export function clampPoint(p, width, height) {
    return { x: clamp(p.x, 0, width), y: clamp(p.y, 0, height) };
}

/**
 * Index of the point nearest to a canvas position, within radiusPx; -1 when none.
 * @param {ImagePoint[]} points image px
 * @param {{x: number, y: number}} pPx canvas px
 * @param {ImageRect} rect
 * @param {{radiusPx?: number}} [opts] canvas px, default 8
 * @returns {number}
 */
export function hitTestPoint(points, pPx, rect, { radiusPx = 8 } = {}) {
    let best = -1, bestDist = radiusPx;
    points.forEach((p, i) => {
        const c = imagePxToCanvas(rect, p.x, p.y);
        const d = Math.hypot(pPx.x - c.x, pPx.y - c.y);
        if (d <= bestDist) {
            best = i;
            bestDist = d;
        }
    });
    return best;
}

/**
 * The handle or target point under a canvas position; the nearer wins, a target on a tie (targets
 * are drawn on top).
 * @param {{handles: ImagePoint[], targets: ImagePoint[]}} points image px
 * @param {{x: number, y: number}} pPx canvas px
 * @param {ImageRect} rect
 * @param {{radiusPx?: number}} [opts] canvas px, default 8
 * @returns {{list: "handles" | "targets", index: number} | null}
 */
export function hitTestDragPoints({ handles, targets }, pPx, rect, opts = {}) {
    const dist = (list, i) => {
        const c = imagePxToCanvas(rect, list[i].x, list[i].y);
        return Math.hypot(pPx.x - c.x, pPx.y - c.y);
    };
    const t = hitTestPoint(targets, pPx, rect, opts);
    const h = hitTestPoint(handles, pPx, rect, opts);
    if (t < 0 && h < 0) return null;
    if (h < 0 || (t >= 0 && dist(targets, t) <= dist(handles, h))) return { list: "targets", index: t };
    return { list: "handles", index: h };
}
