"""`icm-bench train detector|stereo3d`: the task networks' own training loops.

They predate the generic trainer and keep their loops (and their seeded results)
until they are ported onto it; options come as ``--set name=value``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from bench.errors import SpecError

LEGACY = ("detector", "stereo3d")

_DETECTOR = {"n_train": 1600, "epochs": 3, "batch_size": 4, "lr": 2e-3, "seed": 0,
             "data_root": "datasets", "threads": 1, "n_val": 48, "out": None}
_STEREO3D = {"n_train": 3000, "n_val": 100, "iterations": 10000, "batch_size": 4, "lr": 2e-3,
             "crop_width": 320, "seed": 0, "data_root": "datasets", "threads": 2, "workers": 2,
             "out": None}


def _options(defaults: dict[str, Any], sets: list[str], what: str) -> dict[str, Any]:
    from bench.codecs.single import parse_sets

    given = parse_sets(sets)
    unknown = [k for k in given if k not in defaults]
    if unknown:
        raise SpecError(f"train {what}: no option {unknown[0]!r}; options: "
                        f"{', '.join(defaults)}")
    return {**defaults, **given}


def run_legacy(name: str, sets: list[str], log: Callable[[str], None] = print) -> str:
    """Train the detector or the stereo 3D detector with `--set` options; a summary line."""
    if name == "detector":
        from bench.models.detector import DEFAULT_WEIGHTS
        from bench.train.detector import train_detector_cli

        o = _options(_DETECTOR, sets, name)
        return train_detector_cli(Path(o["out"] or DEFAULT_WEIGHTS), o["n_train"], o["epochs"],
                                  o["batch_size"], o["lr"], o["seed"], Path(o["data_root"]),
                                  o["threads"], o["n_val"])
    from bench.train.stereo3d import train_stereo3d_cli
    from bench.tasks.stereo3d import DEFAULT_WEIGHTS as STEREO_WEIGHTS

    o = _options(_STEREO3D, sets, name)
    out = Path(o.pop("out") or STEREO_WEIGHTS)
    o["data_root"] = Path(o["data_root"])
    return train_stereo3d_cli(out, log=log, **o)
