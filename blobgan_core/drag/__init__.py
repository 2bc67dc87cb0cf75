"""DragGAN-style point dragging on BlobGAN layouts: a closed-form blob fit, then motion supervision on
decoder features with point tracking in the rendered image, optimizing the geometry of the blobs under
the handles.

    from blobgan_core.drag import drag
    result = drag(scene, handles='[{"x": 40, "y": 60}]', targets='[{"x": 52, "y": 60}]')
    result.layout, result.handles, result.image, result.frames, result.history
"""

from .closed_form import FITS, ClosedForm, closed_form_step, handle_ownership
from .features import decoder_features, default_layer, layer_names
from .loop import DEFAULT_LAMBDA, DEFAULT_LR, DEFAULT_STEPS, DragResult, drag
from .points import PointsError, parse_drag_points, parse_points, points_json

__all__ = [
    "DEFAULT_LAMBDA",
    "DEFAULT_LR",
    "DEFAULT_STEPS",
    "FITS",
    "ClosedForm",
    "DragResult",
    "PointsError",
    "closed_form_step",
    "decoder_features",
    "default_layer",
    "drag",
    "handle_ownership",
    "layer_names",
    "parse_drag_points",
    "parse_points",
    "points_json",
]
