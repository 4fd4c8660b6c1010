"""MFCNet weights files: float16 state dicts with the configuration, optionally on top of a base.

A file is `{"format": WEIGHTS_FORMAT, "config": MfcNetConfig.to_dict(), "state_dict": ...,
"base": None | {"file": name, "sha256": hex}, "training": {...}}`. Parameters are
stored as float16 (buffers as they are); the entropy models' CDF tables are computed (`update(force=True)`)
from the float16-rounded weights before saving, so encoder and decoder use the stored
tables. An ablation file holds only the modules it does not share with its base file
(looked up next to it and checked by sha256).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.models.mfcnet.config import MfcNetConfig
from bench.models.mfcnet.model import MfcNet, count_parameters

WEIGHTS_FORMAT = "icm-bench/mfcnet/1"


def _module_prefixes(model: MfcNet) -> list[str]:
    names = [f"paths.{n}." for n in model.paths]
    return names + (["finenet."] if model.finenet is not None else [])


def save_mfcnet_weights(model: MfcNet, path: Path, base: str | Path | None = None,
                        training: dict[str, Any] | None = None) -> dict[str, Any]:
    """Round to float16, recompute the CDFs, save (atomically); return a summary."""
    from bench.checkpoint import file_sha256, save_checkpoint

    if base is not None and (Path(base).name == Path(path).name or
                             Path(base).resolve().parent != Path(path).resolve().parent):
        raise ValueError(f"weights {path} and their base {base} must be different files "
                         "in one folder (the base is looked up next to the weights)")
    for codec in model.paths.values():  # masked-out context weights never matter: store zeros
        codec.context_prediction.weight.data *= codec.context_prediction.mask
    params = {k for k, _ in model.named_parameters()}
    rounded = {k: v.half().float() if k in params else v for k, v in model.state_dict().items()}
    model.load_state_dict(rounded)
    model.update(force=True)
    state = model.state_dict()
    shared: list[str] = []
    base_info = None
    if base is not None:
        base_state = load_mfcnet_state(Path(base))
        for prefix in _module_prefixes(model):
            keys = [k for k in state if k.startswith(prefix)]
            if keys and all(k in base_state and base_state[k].shape == state[k].shape
                            and torch.equal(base_state[k].to(state[k].dtype), state[k])
                            for k in keys):
                shared.append(prefix.rstrip("."))
        base_info = {"file": Path(base).name, "sha256": file_sha256(base)}
    keep = {k: (v.half() if k in params else v) for k, v in state.items()
            if not any(k.startswith(p + ".") for p in shared)}
    save_checkpoint(path, {"format": WEIGHTS_FORMAT, "config": model.config.to_dict(),
                           "state_dict": keep, "base": base_info, "training": training or {}})
    counts = {n: count_parameters(m) for n, m in model.paths.items()}
    if model.finenet is not None:
        counts["finenet"] = count_parameters(model.finenet)
    return {"file": str(path), "bytes": Path(path).stat().st_size, "parameters": counts,
            "shared_with_base": shared, "base": base_info, "config": model.config.name}


def _read(path: Path) -> dict[str, Any]:
    from bench.checkpoint import load_checkpoint

    return load_checkpoint(path, fmt=WEIGHTS_FORMAT)


def load_mfcnet_state(path: Path) -> dict[str, torch.Tensor]:
    """The full state dict of a weights file (its base merged in), floats as float32."""
    from bench.checkpoint import CheckpointError, file_sha256

    obj = _read(path)
    state = dict(obj["state_dict"])
    base = obj.get("base")
    if base:
        base_path = Path(path).parent / base["file"]
        if not base_path.is_file():
            raise CheckpointError(f"{path}: its base weights {str(base_path)!r} are missing")
        if file_sha256(base_path) != base["sha256"]:
            raise CheckpointError(f"{path}: base weights {base_path.name} changed since this "
                                  "file was made (sha256 differs); retrain or restore them")
        below = load_mfcnet_state(base_path)
        state = {**below, **state}
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def load_mfcnet(path: Path) -> MfcNet:
    """Build the model of a weights file (eval mode, CDF tables from the file)."""
    obj = _read(path)
    config = MfcNetConfig.from_dict(obj["config"])
    model = MfcNet(config)
    state = load_mfcnet_state(path)
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state)
    if missing:
        from bench.checkpoint import CheckpointError

        raise CheckpointError(f"{path}: weights lack {len(missing)} tensors of "
                              f"{config.name} (e.g. {missing[0]})")
    model.load_state_dict({k: state[k] for k in own})
    return model.eval()
