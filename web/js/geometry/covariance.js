// Covariance algebra (mirrors blobgan_core/layout.py cov_axes / cov_from_axes).

/**
 * Eigen-decomposition of a symmetric 2x2 covariance.
 * @param {number[][]} cov [[a, b], [b, c]], units squared
 * @returns {{angle: number, major: number, minor: number}} angle of the major axis in radians,
 *   measured from +x towards +y (clockwise on screen), in (-pi/2, pi/2]; major >= minor variances
 *   (units squared; minor clamped to >= 1e-12 as in Python)
 */
export function covAxes(cov) {
    const a = cov[0][0], b = cov[0][1], c = cov[1][1];
    const mean = (a + c) / 2;
    const half = Math.hypot((a - c) / 2, b);
    return { angle: 0.5 * Math.atan2(2 * b, a - c), major: mean + half, minor: Math.max(mean - half, 1e-12) };
}

/**
 * Covariance from an axis angle and two axis variances (inverse of covAxes).
 * @param {number} angle radians, from +x towards +y
 * @param {number} major variance along the angle, units squared
 * @param {number} minor variance across it, units squared
 * @returns {number[][]} [[a, b], [b, c]]
 */
export function covFromAxes(angle, major, minor) {
    const cs = Math.cos(angle), sn = Math.sin(angle);
    const a = major * cs * cs + minor * sn * sn;
    const b = (major - minor) * cs * sn;
    const c = major * sn * sn + minor * cs * cs;
    return [[a, b], [b, c]];
}

/**
 * Rotate a covariance: Sigma <- R Sigma R^T, R = [[cos t, -sin t], [sin t, cos t]], t = degrees*pi/180.
 * With y down, positive degrees turn the ellipse clockwise on screen.
 * @param {number[][]} cov [[a, b], [b, c]]
 * @param {number} degrees
 * @returns {number[][]}
 */
export function rotateCov(cov, degrees) {
    const t = (degrees * Math.PI) / 180;
    const cs = Math.cos(t), sn = Math.sin(t);
    const a = cov[0][0], b = cov[0][1], c = cov[1][1];
    // R Sigma R^T written out, so the result is exactly symmetric.
    const na = cs * cs * a - 2 * cs * sn * b + sn * sn * c;
    const nb = cs * sn * (a - c) + (cs * cs - sn * sn) * b;
    const nc = sn * sn * a + 2 * cs * sn * b + cs * cs * c;
    return [[na, nb], [nb, nc]];
}

/**
 * Reshape a covariance keeping its area: major-axis variance * aspect, minor-axis variance / aspect.
 * @param {number[][]} cov [[a, b], [b, c]]
 * @param {number} aspect > 0
 * @returns {number[][]}
 */
export function reshapeCov(cov, aspect) {
    const { angle, major, minor } = covAxes(cov);
    return covFromAxes(angle, major * aspect, minor / aspect);
}

/**
 * Covariance in canvas px squared for an image drawn in `rect`: D Sigma D with D = diag(width, height).
 * Normalized x is stretched by the displayed width and y by the displayed height, so a circle in
 * normalized units is an ellipse on a non-square image.
 * @param {number[][]} cov normalized units squared
 * @param {ImageRect} rect
 * @returns {number[][]} canvas px squared
 */
export function covToPixels(cov, rect) {
    const w = rect.width, h = rect.height;
    const off = cov[0][1] * w * h;
    return [[cov[0][0] * w * w, off], [off, cov[1][1] * h * h]];
}

/**
 * Mahalanobis form (p - c)^T Sigma^-1 (p - c) of an offset; the half-opacity outline is where it equals s.
 * @param {number[][]} cov units squared
 * @param {number} dx offset x, units
 * @param {number} dy offset y, units
 * @returns {number} dimensionless; Infinity for a singular covariance
 */
export function mahalanobis2(cov, dx, dy) {
    const a = cov[0][0], b = cov[0][1], c = cov[1][1];
    const det = a * c - b * b;
    if (!(det > 0)) return Infinity;
    return (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det;
}
