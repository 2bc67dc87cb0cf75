// Writes tests/js/fixtures/edit_semantics.json: scenes, edit lists and the geometry that
// web/js/blob_geometry.js computes for them, so that the Python tests can check that
// blobgan_core/edits.py agrees. Run `node tests/js/make_fixture.mjs` after a deliberate change of
// the semantics; tests/js/edit_semantics_fixture.test.mjs fails while the file is out of date.
// The file format is described in that test.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { applyEdits, covFromAxes, EditListError } from "../../web/js/blob_geometry.js";

export const FIXTURE_PATH = fileURLToPath(new URL("./fixtures/edit_semantics.json", import.meta.url));

/** Five blobs on a 256x256 image in a fresh scene's depth order (ids 0..4 back to front). */
function baseScene() {
    const blob = (id, x, y, size, cov, color) => ({ id, x, y, size, cov, color });
    return {
        width: 256,
        height: 256,
        blobs: [
            blob(0, 0.25, 0.6, 2.0, covFromAxes(0, 0.04, 0.01), "#e6194b"),
            blob(1, 0.5, 0.5, 1.5, covFromAxes(Math.PI / 6, 0.02, 0.005), "#3cb44b"),
            blob(2, 0.75, 0.3, 3.0, covFromAxes(-1.1, 0.03, 0.002), "#4363d8"),
            blob(3, 0.6, 0.8, -100, [[0.005, 0.001], [0.001, 0.003]], "#f58231"),
            blob(4, 0.1, 0.1, 0.5, [[0.01, 0], [0, 0.01]], "#911eb4"),
        ],
        order: [0, 1, 2, 3, 4],
    };
}

const ONE_OP_CASES = [
    ["move", [{ op: "move", blob: 1, dx: 0.12, dy: -0.05 }]],
    ["resize", [{ op: "resize", blob: 2, scale: 1.3 }]],
    ["resize of a hidden blob is a no-op", [{ op: "resize", blob: 3, scale: 2 }]],
    ["set_size revives a hidden blob", [{ op: "set_size", blob: 3, size: 2 }, { op: "resize", blob: 3, scale: 0.5 }]],
    ["reshape of an axis-aligned blob", [{ op: "reshape", blob: 0, aspect: 2 }]],
    ["reshape of a rotated blob", [{ op: "reshape", blob: 1, aspect: 1.7 }]],
    ["reshape past a circle swaps the axes", [{ op: "reshape", blob: 0, aspect: 0.25 }]],
    ["reshape of a round blob stretches along x", [{ op: "reshape", blob: 4, aspect: 3 }]],
    ["rotate clockwise", [{ op: "rotate", blob: 0, degrees: 30 }]],
    ["rotate counter-clockwise a rotated blob", [{ op: "rotate", blob: 2, degrees: -75.5 }]],
    ["remove", [{ op: "remove", blob: 1 }]],
    ["duplicate", [{ op: "duplicate", blob: 2, dx: 0.1, dy: -0.2 }]],
    ["duplicate without dx, dy", [{ op: "duplicate", blob: 0 }]],
    ["restyle changes no geometry", [{ op: "restyle", blob: 1, source_blob: 0, style: true, structure: true, scene: "self" },
        { op: "restyle", blob: 2, source_blob: "background", scene: "self" }]],
    ["forward", [{ op: "forward", blob: 1 }]],
    ["forward at the front", [{ op: "forward", blob: 4 }]],
    ["backward", [{ op: "backward", blob: 3 }]],
    ["backward at the back", [{ op: "backward", blob: 0 }]],
    ["to_front", [{ op: "to_front", blob: 0 }]],
    ["to_back", [{ op: "to_back", blob: 3 }]],
];

const COMBINED = [
    { op: "move", blob: 0, dx: 0.05, dy: 0.01 },
    { op: "duplicate", blob: 1, dx: 0.2, dy: 0.1 },
    { op: "duplicate", blob: 5, dx: -0.1, dy: 0 },
    { op: "rotate", blob: 5, degrees: 45 },
    { op: "reshape", blob: 6, aspect: 0.6 },
    { op: "resize", blob: 6, scale: 1.25 },
    { op: "to_back", blob: 5 },
    { op: "forward", blob: 2 },
    { op: "remove", blob: 4 },
    { op: "set_size", blob: 3, size: 1.2 },
    { op: "rotate", blob: 3, degrees: 90 },
    { op: "backward", blob: 6 },
    { op: "restyle", blob: 6, source_blob: 2, scene: "self" },
    { op: "move", blob: 6, dx: 0.001, dy: -0.3 },
    { op: "to_front", blob: 0 },
];

const ERROR_CASES = [
    ["unknown op", [{ op: "move", blob: 0, dx: 0, dy: 0 }, { op: "scale", blob: 0 }]],
    ["unknown field", [{ op: "move", blob: 0, dx: 0.1, dy: 0, dz: 1 }]],
    ["missing field", [{ op: "rotate", blob: 0 }]],
    ["id out of range", [{ op: "remove", blob: 0 }, { op: "duplicate", blob: 1, dx: 0, dy: 0 }, { op: "move", blob: 6, dx: 0, dy: 0 }]],
    ["negative id", [{ op: "to_front", blob: -1 }]],
    ["string number", [{ op: "move", blob: 0, dx: "0.1", dy: 0 }]],
    ["zero scale", [{ op: "resize", blob: 0, scale: 0 }]],
    ["negative aspect", [{ op: "reshape", blob: 1, aspect: -1 }]],
    ["bad restyle scene", [{ op: "restyle", blob: 1, source_blob: 0, scene: "other" }]],
];

function expectedGeometry(scene) {
    return {
        xs: scene.blobs.map((b) => b.x),
        ys: scene.blobs.map((b) => b.y),
        sizes: scene.blobs.map((b) => b.size),
        covs: scene.blobs.map((b) => b.cov),
        order: scene.order,
    };
}

/** The fixture as a JSON-ready object. */
export function buildFixture() {
    const scene = baseScene();
    const cases = [];
    for (const [name, edits] of [...ONE_OP_CASES, ["combined", COMBINED]]) {
        cases.push({ name, edits, expected: expectedGeometry(applyEdits(scene, edits)) });
    }
    for (const [name, edits] of ERROR_CASES) {
        try {
            applyEdits(scene, edits);
        } catch (err) {
            if (!(err instanceof EditListError)) throw err;
            cases.push({ name, edits, error: { edit: err.index, field: err.field, message: err.message } });
            continue;
        }
        throw new Error(`fixture error case "${name}" did not fail`);
    }
    return {
        format: "blobgan-edit-semantics",
        version: 1,
        about: "Edit lists and the blob geometry web/js/blob_geometry.js computes for them; " +
            "written by tests/js/make_fixture.mjs, format in tests/js/edit_semantics_fixture.test.mjs.",
        scene,
        cases,
    };
}

/** JSON with every value that fits in `width` characters on one line (readable diffs). */
function prettyJson(value, indent = "", width = 150) {
    const flat = JSON.stringify(value);
    if (flat.length + indent.length <= width || typeof value !== "object" || value === null) return flat;
    const inner = `${indent}  `;
    if (Array.isArray(value)) {
        return `[\n${value.map((v) => inner + prettyJson(v, inner, width)).join(",\n")}\n${indent}]`;
    }
    const items = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${prettyJson(v, inner, width)}`);
    return `{\n${items.join(",\n")}\n${indent}}`;
}

/** The fixture file's text (stable: same module, same bytes). */
export function fixtureText() {
    return `${prettyJson(buildFixture())}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
    writeFileSync(FIXTURE_PATH, fixtureText());
    console.log(`wrote ${FIXTURE_PATH}`);
}
