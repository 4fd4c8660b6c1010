"""Checkpoint payloads of CI-ICM networks and loading weights across configurations."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from bench.models.ci_icm.config import CiIcmConfig
from bench.models.ci_icm.model import CiIcm

CHECKPOINT_FORMAT = "icm-bench-ci-icm"
CHECKPOINT_VERSION = 1
FP32_PREFIXES = ("latent_codec.hyper.entropy_bottleneck.",)  # kept exact (medians, CDFs)
CDF_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")  # rebuilt by update()
GC_TABLES = tuple(f"gaussian_conditional.{b}" for b in CDF_BUFFERS[:3])  # not stored (4 MB)


def load_compatible(model: CiIcm, state: dict[str, Tensor]) -> dict[str, list[str]]:
    """Copy `state` into `model` where names match, across module switches.

    A tensor whose shape differs only by more input channels in the model (CI-CTX's
    widened channel context) gets the old weights in its leading input channels and
    zeros elsewhere, so the wider network computes what the narrower one did.
    Returns the names that were widened, left at their initial values (new modules)
    and ignored (not in this model). CDF tables are skipped: `update()` rebuilds them.
    """
    own = model.state_dict()
    report: dict[str, list[str]] = {"widened": [], "new": [], "ignored": []}
    with torch.no_grad():
        for name, target in own.items():
            if name.rsplit(".", 1)[-1] in CDF_BUFFERS:
                continue
            if name not in state:
                report["new"].append(name)
                continue
            src = state[name].to(target.dtype)
            if src.shape == target.shape:
                target.copy_(src)
            elif _widened(src, target):
                target.zero_()
                target[:, : src.shape[1]] = src
                report["widened"].append(name)
            else:
                raise ValueError(f"{name}: shape {tuple(src.shape)} does not fit "
                                 f"{tuple(target.shape)}")
    report["ignored"] = sorted(set(state) - set(own))
    model.load_state_dict(own)
    return report


def _widened(src: Tensor, target: Tensor) -> bool:
    return (src.dim() == target.dim() >= 2 and src.shape[0] == target.shape[0]
            and src.shape[1] < target.shape[1] and src.shape[2:] == target.shape[2:])


def checkpoint_payload(model: CiIcm, meta: dict[str, Any], half: bool = True) -> dict[str, Any]:
    """Plain data for `torch.save`: format, version, config, metadata and the weights.

    Floating weights are stored as float16 (`half`), except the hyper-latent entropy
    model's. The Gaussian conditionals' CDF tables are left out (they depend only on
    the scale table): `model_from_payload` rebuilds all tables with `update(force=True)`.
    """
    state = {}
    for name, t in model.state_dict().items():
        if name.endswith(GC_TABLES):
            continue
        keep = not half or not t.is_floating_point() or name.startswith(FP32_PREFIXES)
        state[name] = (t if keep else t.half()).detach().cpu().contiguous().clone()
    return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "config": model.config.to_dict(), **meta, "state_dict": state}


def model_from_payload(doc: dict[str, Any]) -> CiIcm:
    """The network of a checkpoint payload, in eval mode with its CDF tables built."""
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("not a CI-ICM checkpoint (format key missing or different)")
    if doc.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"CI-ICM checkpoint version {doc.get('version')}, this code reads "
                         f"{CHECKPOINT_VERSION}")
    model = CiIcm(CiIcmConfig.from_dict(doc["config"]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in doc["state_dict"].items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    lacking = [k for k in missing if not k.endswith(GC_TABLES)]
    if lacking:
        raise ValueError(f"checkpoint lacks weights: {lacking[:5]}")
    state.update({k: own[k] for k in missing})
    model.load_state_dict(state)
    model.eval()
    model.update(force=True)
    return model
