// Ellipses: the half-opacity outline of a blob, in normalized units or canvas px.

import { normToCanvas } from "./coords.js";
import { covAxes, covToPixels, mahalanobis2 } from "./covariance.js";

/**
 * An ellipse: centre, semi-axes along its own axes, rotation.
 * @typedef {Object} Ellipse
 * @property {number} cx     centre x (normalized units or canvas px, as the producer says)
 * @property {number} cy     centre y
 * @property {number} rx     semi-axis along the major axis (same units), rx >= ry
 * @property {number} ry     semi-axis along the minor axis
 * @property {number} angle  radians from +x towards +y (the rotation argument of ctx.ellipse)
 * @property {boolean} hidden true when drawn with a nominal size because the blob is hidden
 */

/**
 * Semi-axes of the half-opacity outline {p : (p-c)^T Sigma^-1 (p-c) = s}: sqrt(s * lambda_i).
 * @param {number[][]} cov units squared (normalized, or canvas px from covToPixels)
 * @param {number} size size logit s
 * @returns {{rx: number, ry: number, angle: number} | null} semi-axes in the cov's units and the
 *   major axis angle (radians, +x towards +y); null when s <= 0 (hidden)
 */
export function ellipseAxes(cov, size) {
    if (!(size > 0)) return null;
    const { angle, major, minor } = covAxes(cov);
    return { rx: Math.sqrt(size * major), ry: Math.sqrt(size * minor), angle };
}

/**
 * A blob's half-opacity outline in normalized units.
 * @param {SceneBlob} blob
 * @param {{hiddenSize?: number}} [opts] hiddenSize: nominal s for hidden blobs (default 1); pass
 *   null to get null for hidden blobs instead
 * @returns {Ellipse | null}
 */
export function blobEllipse(blob, { hiddenSize = 1 } = {}) {
    return ellipseOf(blob.cov, blob.size, blob.x, blob.y, hiddenSize);
}

/**
 * A blob's half-opacity outline in canvas px, for an image drawn in `rect` (handles non-square images).
 * @param {SceneBlob} blob
 * @param {ImageRect} rect
 * @param {{hiddenSize?: number}} [opts] as in blobEllipse
 * @returns {Ellipse | null} in canvas px; angle is the on-screen angle (use with ctx.ellipse)
 */
export function blobEllipsePx(blob, rect, { hiddenSize = 1 } = {}) {
    const c = normToCanvas(rect, blob.x, blob.y);
    return ellipseOf(covToPixels(blob.cov, rect), blob.size, c.x, c.y, hiddenSize);
}

function ellipseOf(cov, size, cx, cy, hiddenSize) {
    const hidden = !(size > 0);
    if (hidden && !(hiddenSize > 0)) return null;
    const axes = ellipseAxes(cov, hidden ? hiddenSize : size);
    return { cx, cy, rx: axes.rx, ry: axes.ry, angle: axes.angle, hidden };
}

/**
 * Whether a normalized point lies inside (or on) a blob's half-opacity outline.
 * @param {SceneBlob} blob
 * @param {{x: number, y: number}} p normalized units
 * @param {number} [hiddenSize] nominal s used for hidden blobs; without it a hidden blob contains nothing
 * @returns {boolean}
 */
export function blobContains(blob, p, hiddenSize) {
    const s = blob.size > 0 ? blob.size : hiddenSize;
    if (!(s > 0)) return false;
    return mahalanobis2(blob.cov, p.x - blob.x, p.y - blob.y) <= s;
}
