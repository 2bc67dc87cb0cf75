// Shared scenes and assertions for the blob_geometry tests.
import assert from "node:assert/strict";

import { covFromAxes } from "../../web/js/blob_geometry.js";

/**
 * A 4-blob scene on a 256x256 image: two overlapping round blobs (0 behind 1), a rotated
 * elongated blob (2) and a hidden one (3), in depth order 0, 1, 2, 3 (back to front).
 */
export function sampleScene() {
    return {
        width: 256,
        height: 256,
        blobs: [
            { id: 0, x: 0.3, y: 0.5, size: 2, cov: [[0.01, 0], [0, 0.01]], color: "#ff0000" },
            { id: 1, x: 0.4, y: 0.5, size: 1.5, cov: [[0.004, 0], [0, 0.004]], color: "#00ff00" },
            { id: 2, x: 0.7, y: 0.3, size: 3, cov: covFromAxes(Math.PI / 6, 0.02, 0.002), color: "#0000ff" },
            { id: 3, x: 0.7, y: 0.8, size: -100, cov: [[0.005, 0.001], [0.001, 0.003]], color: "#ffff00" },
        ],
        order: [0, 1, 2, 3],
    };
}

/** Assert |actual - expected| <= tol, with a message naming what is compared. */
export function close(actual, expected, tol = 1e-9, what = "value") {
    assert.ok(Number.isFinite(actual), `${what}: ${actual} is not finite`);
    assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual} (tol ${tol})`);
}

/** Element-wise close() over nested arrays of numbers. */
export function closeDeep(actual, expected, tol = 1e-9, what = "value") {
    if (Array.isArray(expected)) {
        assert.equal(actual.length, expected.length, `${what}: length`);
        expected.forEach((e, i) => closeDeep(actual[i], e, tol, `${what}[${i}]`));
    } else {
        close(actual, expected, tol, what);
    }
}

/** Assert that fn throws an Error whose message contains every given fragment. */
export function throwsWith(fn, ...fragments) {
    let err = null;
    try {
        fn();
    } catch (e) {
        err = e;
    }
    assert.ok(err instanceof Error, `expected an error mentioning ${fragments.join(", ")}`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    return err;
}
