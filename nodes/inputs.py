"""Every node checks its own widget inputs against what its INPUT_TYPES declares (type, min, max, choices),
so the bounds hold wherever the node runs: in ComfyUI (whose checks an API prompt can skip), in the
headless runner, or called from Python. A bad value is a one-line error naming the node, the input and
what is allowed, never a silent truncation (a float seed) or a value past its bound."""

from __future__ import annotations

import functools
import inspect
import math

from .errors import input_error


def declared_inputs(cls) -> dict[str, dict]:
    """name -> {"type", "options", "section"} of a node class, in declaration order (required, optional,
    hidden). The one reading of INPUT_TYPES: these checks and the headless runner share it."""
    out = {}
    for section in ("required", "optional", "hidden"):
        for name, spec in cls.INPUT_TYPES().get(section, {}).items():
            spec = spec if isinstance(spec, (tuple, list)) else (spec,)
            out[name] = {"type": spec[0], "options": spec[1] if len(spec) > 1 else {}, "section": section}
    return out


def _bounds(opts: dict) -> str:
    lo, hi = opts.get("min"), opts.get("max")
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    return f" >= {lo}" if lo is not None else f" <= {hi}" if hi is not None else ""


def check_value(node: str, name: str, kind, opts: dict, value):
    """``value`` as the declared kind ("INT", "FLOAT", "BOOLEAN", "STRING" or a list of choices), within
    its declared bounds; other kinds (models, scenes, images) pass through for the node to check."""
    if isinstance(kind, (list, tuple)):
        if not isinstance(value, str) or value not in kind:
            shown = list(kind) if len(kind) <= 12 else [*kind[:12], "..."]
            raise input_error(node, name, f"must be one of {shown}, got {value!r}")
        return value
    if kind == "INT":
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok and isinstance(value, float) and value.is_integer():
            value, ok = int(value), True   # JSON has one number type: 3.0 is the integer 3
        lo, hi = opts.get("min", -math.inf), opts.get("max", math.inf)
        if not ok or not lo <= value <= hi:
            raise input_error(node, name, f"must be an integer{_bounds(opts)}, got {value!r}")
        return value
    if kind == "FLOAT":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        lo, hi = opts.get("min", -math.inf), opts.get("max", math.inf)
        if not ok or not lo <= value <= hi:
            raise input_error(node, name, f"must be a finite number{_bounds(opts)}, got {value!r}")
        return float(value)
    if kind == "BOOLEAN":
        if not isinstance(value, bool):
            raise input_error(node, name, f"must be true or false, got {value!r}")
        return value
    if kind == "STRING":
        if not isinstance(value, str):
            raise input_error(node, name, f"must be text, got {type(value).__name__}")
        return value
    return value


def checked_inputs(node: str, *, own: tuple[str, ...] = ()):
    """Class decorator: the node's FUNCTION checks its widget inputs (``check_value``) before it runs,
    except those in ``own``, which the node checks itself with a better message (e.g. a model file name,
    answered with the folders searched)."""
    def decorate(cls):
        method = getattr(cls, cls.FUNCTION)
        signature = inspect.signature(method)

        @functools.wraps(method)
        def run(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            declared = declared_inputs(cls)
            for name, value in bound.arguments.items():
                d = declared.get(name)
                if d is not None and d["section"] != "hidden" and name not in own:
                    bound.arguments[name] = check_value(node, name, d["type"], d["options"], value)
            return method(*bound.args, **bound.kwargs)

        setattr(cls, cls.FUNCTION, run)
        return cls
    return decorate
