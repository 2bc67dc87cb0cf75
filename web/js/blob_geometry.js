// Pure geometry for the blob editor widget: the scene model, the edit list (docs/edit-list.md),
// ellipses, coordinate transforms, hit testing, gestures, undo history and the DragGAN points, one
// module each under geometry/. No DOM and no ComfyUI imports, so `node --test tests/js/` can test all
// of it. This file only gathers them: the tests, docs and the Python checks that run it under node
// (tests/test_preview_route.py) name one module for the whole language; the editor's own modules
// import the parts they use.
//
// Units used throughout:
//   normalized  image units: the image is 1 wide and 1 tall, (0,0) top-left, x right, y down;
//               blob centres, moves and covariances (normalized units squared) live here.
//   canvas px   pixels of the widget's <canvas> backing store (what the 2D context draws in).
//   image px    pixels of the generated image (DragGAN points), x_px = x_norm * image width.

export * from "./geometry/scene.js";
export * from "./geometry/covariance.js";
export * from "./geometry/ellipses.js";
export * from "./geometry/coords.js";
export * from "./geometry/hit_test.js";
export { EDIT_OPS } from "./geometry/edit_ops.js";
export * from "./geometry/edit_list.js";
export * from "./geometry/gestures.js";
export * from "./geometry/serialization.js";
export * from "./geometry/drag_points.js";
