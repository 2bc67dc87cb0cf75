// The shared JS/Python fixture tests/js/fixtures/edit_semantics.json must be what
// web/js/blob_geometry.js computes now (regenerate with `node tests/js/make_fixture.mjs`).
//
// File format (JSON, version 1):
//   {
//     "format": "blobgan-edit-semantics", "version": 1, "about": "...",
//     "scene": SceneInfo (see blob_geometry.js): {width, height, blobs: [{id, x, y, size, cov, color}],
//              order}; blobs[i].id == i and order is [0..K-1] (a fresh Layout's depth order), so the
//              Python side builds Layout(xs[0,k] = x, ys[0,k] = y, sizes[0,k+1] = size, covs[0,k] = cov)
//              with batch N = 1 and any features / spatial_style,
//     "cases": [
//       {"name": str, "edits": [edit, ...],               every case starts from "scene"
//        "expected": {
//          "xs": [x per blob id], "ys": [...],           normalized units, one entry per blob id
//                                                         0..K'-1 (K' = K + number of duplicates)
//          "sizes": [size logit per blob id],             no background entry (Layout.sizes[0, 1 + index])
//          "covs": [[[a, b], [b, c]] per blob id],
//          "order": [ids back to front]                   = the `ids` list of edits.apply_edits
//        }},
//       {"name": str, "edits": [...],
//        "error": {"edit": position of the failing edit, "field": offending field name,
//                  "message": the JS message (informative; Python words it its own way)}}
//     ]
//   }
// Python reads blob id i of the result at depth index ids.index(i). Expected numbers are float64;
// compare with an absolute tolerance of about 1e-5 (the Layout is float32).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { applyEdits, parseSceneInfo } from "../../web/js/blob_geometry.js";
import { closeDeep } from "./helpers.mjs";
import { buildFixture, FIXTURE_PATH, fixtureText } from "./make_fixture.mjs";

/** Deep equality, numbers within `tol` (Math.sin/cos may differ in the last bit between engines). */
function sameJson(a, b, tol, path = "fixture") {
    if (typeof a === "number" && typeof b === "number") {
        assert.ok(Math.abs(a - b) <= tol, `${path}: ${a} != ${b}`);
    } else if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
        assert.equal(Array.isArray(a), Array.isArray(b), `${path}: array vs object`);
        assert.deepEqual(Object.keys(a), Object.keys(b), `${path}: keys`);
        for (const k of Object.keys(a)) sameJson(a[k], b[k], tol, `${path}.${k}`);
    } else {
        assert.equal(a, b, path);
    }
}

test("the committed fixture is up to date", () => {
    const text = readFileSync(FIXTURE_PATH, "utf8");
    if (text === fixtureText()) return;
    try {
        sameJson(JSON.parse(text), JSON.parse(fixtureText()), 1e-12);
    } catch (err) {
        err.message = "tests/js/fixtures/edit_semantics.json is stale: run `node tests/js/make_fixture.mjs` " +
            `and review the diff (${err.message})`;
        throw err;
    }
});

test("the fixture covers every op, depth edits, duplicates and errors", () => {
    const fixture = buildFixture();
    assert.deepEqual(parseSceneInfo(fixture.scene), fixture.scene);
    assert.deepEqual(fixture.scene.order, fixture.scene.blobs.map((b) => b.id));
    const ops = new Set(fixture.cases.flatMap((c) => c.edits.map((e) => e.op)));
    for (const op of ["move", "resize", "set_size", "reshape", "rotate", "remove", "duplicate", "restyle",
        "forward", "backward", "to_front", "to_back"]) {
        assert.ok(ops.has(op), `no case uses ${op}`);
    }
    assert.ok(fixture.cases.filter((c) => c.error).length >= 5);
    assert.ok(fixture.cases.some((c) => c.expected && c.expected.order.length > fixture.scene.blobs.length));
});

test("every case is self-consistent: expected geometry matches applyEdits, errors throw at the named edit", () => {
    const fixture = JSON.parse(readFileSync(FIXTURE_PATH, "utf8"));
    for (const c of fixture.cases) {
        if (c.error) {
            const matches = (err) => err.index === c.error.edit && err.field === c.error.field;
            assert.throws(() => applyEdits(fixture.scene, c.edits), matches, c.name);
            continue;
        }
        const out = applyEdits(fixture.scene, c.edits);
        // closeDeep, not deepEqual: JSON turns -0 into 0.
        closeDeep(out.blobs.map((b) => b.x), c.expected.xs, 0, `${c.name}: xs`);
        closeDeep(out.blobs.map((b) => b.y), c.expected.ys, 0, `${c.name}: ys`);
        closeDeep(out.blobs.map((b) => b.size), c.expected.sizes, 0, `${c.name}: sizes`);
        closeDeep(out.blobs.map((b) => b.cov), c.expected.covs, 0, `${c.name}: covs`);
        assert.deepEqual(out.order, c.expected.order, `${c.name}: order`);
    }
});
