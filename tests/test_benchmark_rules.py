"""Decision rules inside the benchmark scripts that write into shipped files."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import drag as drag_benchmark  # noqa: E402  (benchmarks/drag.py)


def rows(**means):
    """Layer-study rows: name=(side, core error, edge error)."""
    out = {}
    for name, (side, core, edge) in means.items():
        layer = name.replace("_", ".")
        out[f"{layer}/core"] = {"mean_px": core, "side": side}
        out[f"{layer}/edge"] = {"mean_px": edge, "side": side}
    out["stay/core"] = {"mean_px": 0.1, "side": 0}    # never a candidate, however low
    return out


def test_the_layer_with_the_lowest_error_wins_when_it_is_clearly_lower():
    study = rows(conv1=(16, 0.9, 1.1), convs_0=(32, 0.5, 0.7), convs_3=(64, 0.8, 1.0))
    assert drag_benchmark.best_layer(study) == "convs.0"


def test_a_tie_goes_to_the_coarser_cheaper_layer():
    # the default model's study at step 33,775: 0.600 against 0.590 px
    study = rows(conv1=(16, 0.44, 0.76), convs_0=(32, 0.50, 0.68), convs_2=(64, 0.49, 0.70))
    assert drag_benchmark.best_layer(study) == "conv1"
    assert drag_benchmark.best_layer(study, tie_px=0.0) == "convs.0"
