// The edit list on the client: scene validation, every op of docs/edit-list.md, validation errors,
// serialization and undo history.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
    applyEdits, covAxes, covFromAxes, EDIT_OPS, EditHistory, EditListError, parseEdits, parseSceneInfo,
    REMOVED_SIZE, serializeEdits, validateEdits,
} from "../../web/js/blob_geometry.js";
import { close, closeDeep, sampleScene, throwsWith } from "./helpers.mjs";

describe("parseSceneInfo", () => {
    test("returns a deep copy of a valid scene", () => {
        const scene = sampleScene();
        const parsed = parseSceneInfo(scene);
        assert.deepEqual(parsed, scene);
        assert.notEqual(parsed.blobs[0].cov, scene.blobs[0].cov);
        assert.notEqual(parsed.order, scene.order);
    });

    test("symmetrizes the covariance", () => {
        const scene = sampleScene();
        scene.blobs[0].cov = [[0.01, 0.001], [0.0012, 0.01]];
        closeDeep(parseSceneInfo(scene).blobs[0].cov, [[0.01, 0.0011], [0.0011, 0.01]], 1e-15);
    });

    test("keeps a palette", () => {
        const scene = { ...sampleScene(), palette: ["#123456", "#abcdef"] };
        assert.deepEqual(parseSceneInfo(scene).palette, ["#123456", "#abcdef"]);
    });

    const broken = [
        ["width", (s) => { s.width = 0; }, '"width" must be a positive number'],
        ["blobs", (s) => { s.blobs = {}; }, '"blobs" must be a list'],
        ["id out of place", (s) => { s.blobs[1].id = 5; }, '"blobs[1].id" must be 1'],
        ["x", (s) => { s.blobs[2].x = NaN; }, '"blobs[2].x" must be a finite number; got NaN'],
        ["cov shape", (s) => { s.blobs[0].cov = [1, 2, 3]; }, '"blobs[0].cov" must be a 2x2 list'],
        ["cov not PD", (s) => { s.blobs[0].cov = [[0.01, 0.02], [0.02, 0.01]]; }, '"blobs[0].cov" must be positive definite'],
        ["color", (s) => { s.blobs[0].color = "red"; }, '"blobs[0].color" must be "#rrggbb"'],
        ["order missing an id", (s) => { s.order = [0, 1, 2]; }, '"order" must be every blob id 0..3 exactly once'],
        ["order repeats an id", (s) => { s.order = [0, 1, 1, 3]; }, '"order" must be every blob id'],
        ["palette", (s) => { s.palette = []; }, '"palette" must be a non-empty list'],
    ];
    for (const [name, breakIt, message] of broken) {
        test(`rejects a bad ${name}`, () => {
            const scene = sampleScene();
            breakIt(scene);
            throwsWith(() => parseSceneInfo(scene), "scene info:", message);
        });
    }
});

describe("applyEdits: geometric ops", () => {
    test("an empty list returns an equal copy and never mutates the input", () => {
        const scene = sampleScene();
        const before = JSON.stringify(scene);
        const out = applyEdits(scene, []);
        assert.deepEqual(out, scene);
        assert.notEqual(out, scene);
        applyEdits(scene, [{ op: "move", blob: 0, dx: 1, dy: 1 }, { op: "duplicate", blob: 1, dx: 0, dy: 0 },
            { op: "to_back", blob: 2 }, { op: "rotate", blob: 2, degrees: 30 }]);
        assert.equal(JSON.stringify(scene), before);
    });

    test("move adds (dx, dy) to the centre", () => {
        const out = applyEdits(sampleScene(), [{ op: "move", blob: 1, dx: 0.12, dy: -0.05 }]);
        close(out.blobs[1].x, 0.52, 1e-15);
        close(out.blobs[1].y, 0.45, 1e-15);
        assert.deepEqual(out.blobs[0], sampleScene().blobs[0]);
    });

    test("resize multiplies the size logit by scale^2 and leaves covariance alone", () => {
        const out = applyEdits(sampleScene(), [{ op: "resize", blob: 2, scale: 1.3 }]);
        close(out.blobs[2].size, 3 * 1.69, 1e-12);
        assert.deepEqual(out.blobs[2].cov, sampleScene().blobs[2].cov);
    });

    test("resize leaves a hidden blob as it is", () => {
        const out = applyEdits(sampleScene(), [{ op: "resize", blob: 3, scale: 2 }]);
        assert.equal(out.blobs[3].size, -100);
    });

    test("set_size sets the logit (and revives a hidden blob)", () => {
        const out = applyEdits(sampleScene(), [{ op: "set_size", blob: 3, size: 2 }, { op: "resize", blob: 3, scale: 2 }]);
        assert.equal(out.blobs[3].size, 8);
    });

    test("reshape scales the major variance by aspect and the minor by 1/aspect", () => {
        const scene = sampleScene();
        scene.blobs[0].cov = [[0.04, 0], [0, 0.01]];
        const out = applyEdits(scene, [{ op: "reshape", blob: 0, aspect: 2 }]);
        closeDeep(out.blobs[0].cov, [[0.08, 0], [0, 0.005]], 1e-15);
    });

    test("reshape of a rotated blob keeps its angle and its area", () => {
        const out = applyEdits(sampleScene(), [{ op: "reshape", blob: 2, aspect: 1.5 }]);
        const before = covAxes(sampleScene().blobs[2].cov), after = covAxes(out.blobs[2].cov);
        close(after.angle, Math.PI / 6, 1e-12, "angle");
        close(after.major, 0.03, 1e-12, "major");
        close(after.minor, 0.002 / 1.5, 1e-12, "minor");
        close(after.major * after.minor, before.major * before.minor, 1e-15, "area");
    });

    test("reshape with aspect < 1 past a circle swaps the axes", () => {
        const scene = sampleScene();
        scene.blobs[0].cov = [[0.04, 0], [0, 0.01]];
        const out = applyEdits(scene, [{ op: "reshape", blob: 0, aspect: 0.25 }]);
        closeDeep(out.blobs[0].cov, [[0.01, 0], [0, 0.04]], 1e-15);
    });

    test("rotate is R Sigma R^T with R = [[cos, -sin], [sin, cos]]: positive turns +x towards +y", () => {
        const scene = sampleScene();
        scene.blobs[0].cov = [[0.04, 0], [0, 0.01]];
        const quarter = applyEdits(scene, [{ op: "rotate", blob: 0, degrees: 90 }]);
        closeDeep(quarter.blobs[0].cov, [[0.01, 0], [0, 0.04]], 1e-15);
        // 30 degrees clockwise on screen: the major axis points right and down (angle +30 deg, y down).
        const thirty = applyEdits(scene, [{ op: "rotate", blob: 0, degrees: 30 }]);
        closeDeep(thirty.blobs[0].cov, covFromAxes(Math.PI / 6, 0.04, 0.01), 1e-15);
        assert.ok(thirty.blobs[0].cov[0][1] > 0, "off-diagonal > 0: the major axis slopes down to the right");
    });

    test("rotate agrees with the explicit matrix product for an arbitrary covariance", () => {
        const cov = [[0.005, 0.001], [0.001, 0.003]];
        const scene = sampleScene();
        scene.blobs[3].cov = cov;
        const t = (-47 * Math.PI) / 180;
        const R = [[Math.cos(t), -Math.sin(t)], [Math.sin(t), Math.cos(t)]];
        const mul = (A, B) => A.map((row, i) => B[0].map((_, j) => row[0] * B[0][j] + row[1] * B[1][j]));
        const expected = mul(mul(R, cov), [[R[0][0], R[1][0]], [R[0][1], R[1][1]]]);
        closeDeep(applyEdits(scene, [{ op: "rotate", blob: 3, degrees: -47 }]).blobs[3].cov, expected, 1e-15);
    });

    test("remove sets the size to -100 and keeps the blob", () => {
        const out = applyEdits(sampleScene(), [{ op: "remove", blob: 1 }]);
        assert.equal(out.blobs[1].size, REMOVED_SIZE);
        assert.equal(out.blobs.length, 4);
        assert.deepEqual(out.order, [0, 1, 2, 3]);
    });

    test("duplicate appends ids K, K+1, ... in front of all blobs, copying the geometry moved by (dx, dy)", () => {
        const out = applyEdits(sampleScene(), [
            { op: "duplicate", blob: 2, dx: 0.1, dy: -0.1 },
            { op: "duplicate", blob: 0 },
            { op: "move", blob: 4, dx: 0.05, dy: 0 },
        ]);
        assert.equal(out.blobs.length, 6);
        assert.deepEqual(out.order, [0, 1, 2, 3, 4, 5]);
        const src = sampleScene().blobs[2];
        assert.equal(out.blobs[4].id, 4);
        close(out.blobs[4].x, src.x + 0.15, 1e-15);
        close(out.blobs[4].y, src.y - 0.1, 1e-15);
        assert.equal(out.blobs[4].size, src.size);
        assert.deepEqual(out.blobs[4].cov, src.cov);
        assert.notEqual(out.blobs[4].cov, out.blobs[2].cov);
        assert.equal(out.blobs[4].color, src.color);
        assert.deepEqual({ ...out.blobs[5], id: 0 }, sampleScene().blobs[0], "dx, dy default to 0");
    });

    test("duplicate takes its colour from the palette when the scene has one", () => {
        const scene = { ...sampleScene(), palette: ["#111111", "#222222", "#333333"] };
        const out = applyEdits(scene, [{ op: "duplicate", blob: 0, dx: 0, dy: 0 }]);
        assert.equal(out.blobs[4].color, "#222222"); // 4 % 3 = 1
    });

    test("restyle changes no geometry", () => {
        const out = applyEdits(sampleScene(), [
            { op: "restyle", blob: 1, source_blob: 0, style: true, structure: true, scene: "self" },
            { op: "restyle", blob: 2, source_blob: "background" },
        ]);
        assert.deepEqual(out, sampleScene());
    });
});

describe("applyEdits: depth order", () => {
    const orderAfter = (edits) => applyEdits(sampleScene(), edits).order;

    test("forward and backward swap with the neighbour in front / behind", () => {
        assert.deepEqual(orderAfter([{ op: "forward", blob: 1 }]), [0, 2, 1, 3]);
        assert.deepEqual(orderAfter([{ op: "backward", blob: 2 }]), [0, 2, 1, 3]);
        assert.deepEqual(orderAfter([{ op: "forward", blob: 0 }, { op: "forward", blob: 0 }]), [1, 2, 0, 3]);
    });

    test("forward at the front and backward at the back change nothing", () => {
        assert.deepEqual(orderAfter([{ op: "forward", blob: 3 }]), [0, 1, 2, 3]);
        assert.deepEqual(orderAfter([{ op: "backward", blob: 0 }]), [0, 1, 2, 3]);
    });

    test("to_front and to_back move to the ends", () => {
        assert.deepEqual(orderAfter([{ op: "to_front", blob: 1 }]), [0, 2, 3, 1]);
        assert.deepEqual(orderAfter([{ op: "to_back", blob: 2 }]), [2, 0, 1, 3]);
    });

    test("depth edits follow ids, not positions, and never change ids", () => {
        const out = applyEdits(sampleScene(), [
            { op: "to_back", blob: 3 }, { op: "forward", blob: 3 }, { op: "duplicate", blob: 3, dx: 0, dy: 0 },
            { op: "to_back", blob: 4 }, { op: "move", blob: 3, dx: 0.1, dy: 0 },
        ]);
        assert.deepEqual(out.order, [4, 0, 3, 1, 2]);
        assert.deepEqual(out.blobs.map((b) => b.id), [0, 1, 2, 3, 4]);
        close(out.blobs[3].x, 0.8, 1e-15);
    });
});

describe("validation", () => {
    const scene = sampleScene();
    const bad = [
        ["a list", { op: "move" }, ["edits must be a JSON list"], null, null],
        ["an object per edit", [5], ["edit #0", "must be an object"], 0, null],
        ["an op", [{ blob: 0 }], ["edit #0", 'missing "op"', "allowed ops: move, resize"], 0, "op"],
        ["a known op", [{ op: "scale", blob: 0 }], ["edit #0", 'unknown op "scale"', EDIT_OPS.join(", ")], 0, "op"],
        ["an op, not a name every object has", [{ op: "constructor", blob: 0 }], ['unknown op "constructor"'], 0, "op"],
        ["known fields", [{ op: "move", blob: 0, dx: 0, dy: 0, dz: 1 }],
            ["edit #0 (move)", 'unknown field "dz"', "allowed fields: op, blob, dx, dy"], 0, "dz"],
        ["required fields", [{ op: "move", blob: 0, dx: 0.1 }], ["edit #0 (move)", 'missing field "dy"'], 0, "dy"],
        ["blob present", [{ op: "remove" }], ["edit #0 (remove)", 'missing field "blob"'], 0, "blob"],
        ["ids in range", [{ op: "remove", blob: 2 }, { op: "move", blob: 4, dx: 0, dy: 0 }],
            ["edit #1 (move)", '"blob" must be a blob id, an integer in 0..3; got 4'], 1, "blob"],
        ["integer ids", [{ op: "remove", blob: 1.5 }], ['"blob" must be a blob id', "got 1.5"], 0, "blob"],
        ["non-negative ids", [{ op: "to_front", blob: -1 }], ['"blob" must be a blob id'], 0, "blob"],
        ["numeric ids", [{ op: "to_front", blob: "1" }], ['"blob" must be a blob id', 'got "1"'], 0, "blob"],
        ["finite numbers", [{ op: "move", blob: 0, dx: NaN, dy: 0 }], ['"dx" must be a finite number; got NaN'], 0, "dx"],
        ["no infinity", [{ op: "rotate", blob: 0, degrees: Infinity }], ['"degrees" must be a finite number; got Infinity'], 0, "degrees"],
        ["no strings for numbers", [{ op: "set_size", blob: 0, size: "2" }], ['"size" must be a finite number'], 0, "size"],
        ["no booleans for numbers", [{ op: "move", blob: 0, dx: true, dy: 0 }], ['"dx" must be a finite number'], 0, "dx"],
        ["positive scale", [{ op: "resize", blob: 0, scale: 0 }], ["edit #0 (resize)", '"scale" must be a finite number > 0; got 0'], 0, "scale"],
        ["positive aspect", [{ op: "reshape", blob: 0, aspect: -2 }], ['"aspect" must be a finite number > 0; got -2'], 0, "aspect"],
        ["boolean style", [{ op: "restyle", blob: 0, source_blob: 1, style: 1 }], ['"style" must be true or false'], 0, "style"],
        ["known restyle scene", [{ op: "restyle", blob: 0, source_blob: 1, scene: "other" }],
            ['"scene" must be one of "source", "self"; got "other"'], 0, "scene"],
        ["a source blob", [{ op: "restyle", blob: 0, source_blob: "sky" }],
            ['"source_blob" must be "background" or a blob id of the source scene'], 0, "source_blob"],
        ["self source ids from the input scene", [{ op: "duplicate", blob: 0 },
            { op: "restyle", blob: 4, source_blob: 4, scene: "self" }],
            ["edit #1 (restyle)", "of the input scene, an integer in 0..3; got 4"], 1, "source_blob"],
    ];
    for (const [name, edits, fragments, index, field] of bad) {
        test(`requires ${name}`, () => {
            const err = throwsWith(() => applyEdits(scene, edits), ...fragments);
            assert.ok(err instanceof EditListError);
            assert.equal(err.index, index);
            assert.equal(err.field, field);
        });
    }

    test("a duplicate's id is valid only after the duplicate", () => {
        throwsWith(() => applyEdits(scene, [{ op: "move", blob: 4, dx: 0, dy: 0 }, { op: "duplicate", blob: 0 }]), "edit #0");
        assert.doesNotThrow(() => applyEdits(scene, [{ op: "duplicate", blob: 0 }, { op: "move", blob: 4, dx: 0, dy: 0 }]));
    });

    test("sourceBlobCount checks restyle source ids when known", () => {
        const edits = [{ op: "restyle", blob: 0, source_blob: 7 }];
        assert.doesNotThrow(() => applyEdits(scene, edits));
        throwsWith(() => applyEdits(scene, edits, { sourceBlobCount: 5 }), "of the source scene, an integer in 0..4; got 7");
    });

    test("validateEdits fills defaults and checks ids only when given a blob count", () => {
        const edits = [{ op: "duplicate", blob: 9 }, { op: "restyle", blob: 10, source_blob: 2 }];
        assert.deepEqual(validateEdits(edits), [
            { op: "duplicate", blob: 9, dx: 0, dy: 0 },
            { op: "restyle", blob: 10, source_blob: 2, style: true, structure: false, scene: "source" },
        ]);
        assert.doesNotThrow(() => validateEdits(edits, { blobCount: 10 }));
        throwsWith(() => validateEdits(edits, { blobCount: 9 }), "edit #0 (duplicate)", "0..8; got 9");
    });
});

describe("serializeEdits / parseEdits", () => {
    const edits = [
        { dy: -0.05, blob: 3, op: "move", dx: 0.123456789 },
        { op: "resize", blob: 3, scale: 1.3 },
        { op: "duplicate", blob: 1, dx: 0.3, dy: 0 },
        { op: "restyle", blob: 4, structure: false, source_blob: "background" },
        { op: "to_front", blob: 2 },
    ];
    const text = [
        "[",
        '  {"op": "move", "blob": 3, "dx": 0.12346, "dy": -0.05},',
        '  {"op": "resize", "blob": 3, "scale": 1.3},',
        '  {"op": "duplicate", "blob": 1, "dx": 0.3, "dy": 0},',
        '  {"op": "restyle", "blob": 4, "source_blob": "background", "structure": false},',
        '  {"op": "to_front", "blob": 2}',
        "]",
    ].join("\n");

    test("writes one edit per line, keys in contract order, numbers rounded to 5 decimals", () => {
        assert.equal(serializeEdits(edits), text);
    });

    test("an empty list is []", () => {
        assert.equal(serializeEdits([]), "[]");
    });

    test("no -0, and scale/aspect keep significant digits instead of rounding to 0", () => {
        const out = serializeEdits([{ op: "move", blob: 0, dx: -0.000001, dy: 0 }, { op: "resize", blob: 0, scale: 1.2345e-7 },
            { op: "reshape", blob: 0, aspect: 1.0000004 }]);
        assert.match(out, /"dx": 0,/);
        assert.match(out, /"scale": 1\.2345e-7/);
        assert.match(out, /"aspect": 1\}/);
        assert.deepEqual(parseEdits(out)[1], { op: "resize", blob: 0, scale: 1.2345e-7 });
    });

    test("round trip: parse(serialize(x)) is x rounded, and serialize is a fixed point", () => {
        const parsed = parseEdits(serializeEdits(edits));
        assert.equal(parsed[0].dx, 0.12346);
        assert.deepEqual(parsed.slice(1), edits.slice(1).map((e) => ({ ...e })));
        assert.equal(serializeEdits(parsed), text);
        assert.equal(serializeEdits(parseEdits(JSON.stringify(edits))), text, "compact input, same output");
    });

    test("empty strings, whitespace and [] mean no edits", () => {
        for (const s of ["", "   ", "\n\t ", "[]", " [ ] ", undefined, null]) assert.deepEqual(parseEdits(s), []);
    });

    test("bad JSON, non-lists and bad edits are errors", () => {
        throwsWith(() => parseEdits("[{op: move}]"), "edits are not valid JSON", "expected a list like");
        throwsWith(() => parseEdits('{"op": "move"}'), "edits must be a JSON list");
        throwsWith(() => parseEdits("[NaN]"), "not valid JSON");
        throwsWith(() => parseEdits('[{"op": "resize", "blob": 0, "scale": -1}]'), "edit #0 (resize)", '"scale"');
        throwsWith(() => serializeEdits([{ op: "nope", blob: 0 }]), 'unknown op "nope"');
    });
});

describe("EditHistory", () => {
    const a = [{ op: "move", blob: 0, dx: 0.1, dy: 0 }];
    const b = [...a, { op: "remove", blob: 1 }];
    const c = [{ op: "to_back", blob: 2 }];

    test("undo and redo walk through pushed snapshots", () => {
        const h = new EditHistory();
        assert.deepEqual(h.current, []);
        assert.equal(h.canUndo, false);
        assert.equal(h.undo(), null);
        assert.ok(h.push(a));
        assert.ok(h.push(b));
        assert.deepEqual(h.undo(), a);
        assert.deepEqual(h.undo(), []);
        assert.equal(h.undo(), null);
        assert.deepEqual(h.redo(), a);
        assert.deepEqual(h.redo(), b);
        assert.equal(h.redo(), null);
        assert.deepEqual(h.current, b);
    });

    test("pushing after an undo drops the redo branch; pushing the current list records nothing", () => {
        const h = new EditHistory(a);
        h.push(b);
        h.undo();
        assert.equal(h.canRedo, true);
        assert.equal(h.push(a.map((e) => ({ ...e }))), false);
        assert.equal(h.canRedo, true);
        h.push(c);
        assert.equal(h.canRedo, false);
        assert.deepEqual(h.undo(), a);
    });

    test("snapshots are copies", () => {
        const h = new EditHistory();
        const edits = a.map((e) => ({ ...e }));
        h.push(edits);
        edits[0].dx = 99;
        h.current[0].dx = 42;
        assert.equal(h.current[0].dx, 0.1);
    });

    test("reset forgets history; limit bounds the undo stack", () => {
        const h = new EditHistory([], { limit: 2 });
        h.push(a);
        h.push(b);
        h.push(c);
        assert.deepEqual(h.undo(), b);
        assert.deepEqual(h.undo(), a);
        assert.equal(h.undo(), null);
        h.reset(c);
        assert.deepEqual(h.current, c);
        assert.equal(h.canUndo || h.canRedo, false);
    });
});
