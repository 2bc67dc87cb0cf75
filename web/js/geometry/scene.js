// The scene model: what the server sends the widget about the scene under edit, checked and copied.

import { describe, isPlainObject } from "./util.js";

/**
 * One blob of the scene as the server sends it (batch item 0).
 * @typedef {Object} SceneBlob
 * @property {number} id      blob id: its index in `SceneInfo.blobs` (0..K-1; duplicates get K, K+1, ...)
 * @property {number} x       centre x, normalized units (0 = left edge, 1 = right edge)
 * @property {number} y       centre y, normalized units (0 = top edge, 1 = bottom edge)
 * @property {number} size    size logit s (peak opacity = sigmoid(s)); s <= 0 means hidden
 * @property {number[][]} cov covariance Sigma [[a, b], [b, c]], normalized units squared, as in
 *                            `Layout.covs` (it already includes the +1e-5 I)
 * @property {string} color   "#rrggbb", the blob's colour on the blob map
 */

/**
 * What the server sends the widget about the scene under edit (batch item 0 of the input layout).
 * @typedef {Object} SceneInfo
 * @property {number} width       image width, image px
 * @property {number} height      image height, image px
 * @property {SceneBlob[]} blobs  every blob, `blobs[i].id === i`
 * @property {number[]} order     all blob ids in depth order, back to front (later = drawn in front)
 * @property {string[]} [palette] optional blob colours "#rrggbb"; blob k is drawn in
 *                                `palette[k % palette.length]`, which colours new duplicates too
 */

const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

/** Size logit that `remove` writes: sigmoid(-100) is 0 for any practical purpose. */
export const REMOVED_SIZE = -100;

/**
 * Check a scene info object and return a deep copy (the caller's object is never kept).
 * Throws an Error naming the bad field and what is allowed.
 * @param {SceneInfo} scene
 * @returns {SceneInfo}
 */
export function parseSceneInfo(scene) {
    const fail = (field, allowed, got) => {
        throw new Error(`scene info: "${field}" must be ${allowed}; got ${describe(got)}`);
    };
    if (!isPlainObject(scene)) fail("scene", "an object {width, height, blobs, order}", scene);
    for (const field of ["width", "height"]) {
        const v = scene[field];
        if (!(Number.isFinite(v) && v > 0)) fail(field, "a positive number of image pixels", v);
    }
    if (!Array.isArray(scene.blobs)) fail("blobs", "a list of blobs", scene.blobs);
    const blobs = scene.blobs.map((b, i) => {
        const at = `blobs[${i}]`;
        if (!isPlainObject(b)) fail(at, "an object {id, x, y, size, cov, color}", b);
        if (b.id !== i) fail(`${at}.id`, `${i} (blobs are listed by id)`, b.id);
        for (const f of ["x", "y", "size"]) {
            if (!Number.isFinite(b[f])) fail(`${at}.${f}`, "a finite number", b[f]);
        }
        const cov = b.cov;
        const ok = Array.isArray(cov) && cov.length === 2 && cov.every(
            (row) => Array.isArray(row) && row.length === 2 && row.every(Number.isFinite));
        if (!ok) fail(`${at}.cov`, "a 2x2 list of finite numbers [[a, b], [b, c]]", cov);
        if (!(cov[0][0] > 0 && cov[1][1] > 0 && cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0] > 0)) {
            fail(`${at}.cov`, "positive definite", cov);
        }
        if (typeof b.color !== "string" || !HEX_COLOR.test(b.color)) fail(`${at}.color`, '"#rrggbb"', b.color);
        // Symmetrize: the server's float32 round trip may leave b != b' in the last bit.
        const off = (cov[0][1] + cov[1][0]) / 2;
        return { id: i, x: b.x, y: b.y, size: b.size, cov: [[cov[0][0], off], [off, cov[1][1]]], color: b.color };
    });
    const order = scene.order;
    const isPermutation = Array.isArray(order) && order.length === blobs.length &&
        order.every((id) => Number.isInteger(id) && id >= 0 && id < blobs.length) &&
        new Set(order).size === blobs.length;
    if (!isPermutation) fail("order", `every blob id 0..${blobs.length - 1} exactly once`, order);
    const out = { width: scene.width, height: scene.height, blobs, order: [...order] };
    if (scene.palette !== undefined) {
        const pal = scene.palette;
        if (!Array.isArray(pal) || pal.length === 0 || !pal.every((c) => typeof c === "string" && HEX_COLOR.test(c))) {
            fail("palette", 'a non-empty list of "#rrggbb" colours', pal);
        }
        out.palette = [...pal];
    }
    return out;
}

/**
 * Deep copy of a scene (blobs, covariances, order, palette).
 * @param {SceneInfo} scene
 * @returns {SceneInfo}
 */
export function cloneScene(scene) {
    const out = { ...scene, blobs: scene.blobs.map(cloneBlob), order: [...scene.order] };
    if (scene.palette) out.palette = [...scene.palette];
    return out;
}

export function cloneBlob(b) {
    return { ...b, cov: [[b.cov[0][0], b.cov[0][1]], [b.cov[1][0], b.cov[1][1]]] };
}

/**
 * Whether a blob has a visible outline (size logit s > 0).
 * @param {SceneBlob} blob
 * @returns {boolean}
 */
export function isVisible(blob) {
    return blob.size > 0;
}
