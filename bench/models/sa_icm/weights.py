"""Weights files of the SA-ICM networks: what they hold, saving (fp16) and loading.

A file is a weights-only dict: {"format", "role", "config", "lambdas", "state_dict"}
(+ "base_sha256" for an enhancement: the base file it was trained against). `role` is
"base" (SA-ICM, mask-weighted), "mse" (the MSE baseline, same network) or
"enhancement" (the ICA with its fusion). Large float tensors are stored as float16;
entropy-model parameters, gains and the CDF tables keep their precision. Files are
saved after `update()`, so the CDF tables travel with the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.models.sa_icm.config import SaIcmConfig

WEIGHTS_FORMAT = "icm-bench/sa-icm/1"
ROLES = ("base", "mse", "enhancement")
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
_KEEP_PRECISION = ("entropy_bottleneck", "gaussian_conditional", "gains")


def default_path(role: str, m: int = 4, fusion: str = "add", variant: str = "") -> Path:
    """The committed file of a role: sa-icm-base.pt, sa-icm-mse.pt, or the enhancement's
    sa-icm-enh-m<m>[-learned][-<variant>].pt (variant "short": the m-ablation runs)."""
    if role == "enhancement":
        suffix = ("" if fusion == "add" else f"-{fusion}") + (f"-{variant}" if variant else "")
        return WEIGHTS_DIR / f"sa-icm-enh-m{m}{suffix}.pt"
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return WEIGHTS_DIR / f"sa-icm-{role}.pt"


def compact_state(module: torch.nn.Module, half: bool = True) -> dict[str, torch.Tensor]:
    """The module's state on the CPU, large float tensors in float16 when `half`."""
    out = {}
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu()
        if half and t.is_floating_point() and t.numel() > 64 and not any(
                key in name for key in _KEEP_PRECISION):
            t = t.half()
        out[name] = t.clone()
    return out


def make_payload(role: str, cfg: SaIcmConfig, lambdas: list[float], module: torch.nn.Module,
                 half: bool = True, **extra: Any) -> dict[str, Any]:
    """The weights-only dict of one network (call `module.update(force=True)` first)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return {"format": WEIGHTS_FORMAT, "role": role, "config": cfg.to_dict(),
            "lambdas": [float(v) for v in lambdas], "state_dict": compact_state(module, half),
            **extra}


def float_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float16 tensors back to float32 (integers untouched)."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def build_from_payload(payload: dict[str, Any], role: str) -> tuple[torch.nn.Module, SaIcmConfig]:
    """(network with the payload's weights, its config); ValueError on a wrong file."""
    from bench.models.sa_icm.ica import AdditionalInfoNet
    from bench.models.sa_icm.tcm import TcmNet

    if not isinstance(payload, dict) or payload.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"not an SA-ICM weights file (format {WEIGHTS_FORMAT!r} expected)")
    if payload.get("role") != role:
        raise ValueError(f"this file holds the {payload.get('role')!r} network, "
                         f"not the {role!r} one")
    cfg = SaIcmConfig.from_dict(payload["config"])
    net = AdditionalInfoNet(cfg) if role == "enhancement" else TcmNet(cfg.base)
    net.load_state_dict(float_state(payload["state_dict"]))
    return net, cfg


def load_network(path: str | Path, role: str) -> tuple[torch.nn.Module, SaIcmConfig, dict]:
    """(network, config, payload) from a weights file (weights only, via bench.checkpoint)."""
    from bench.checkpoint import load_checkpoint

    payload = load_checkpoint(Path(path))
    net, cfg = build_from_payload(payload, role)
    return net, cfg, payload
