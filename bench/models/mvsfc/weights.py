"""MVSFC weights files: a plain-data checkpoint (format tag, config, state, summary).

Float tensors are stored in float16; tensors shared by both views (configurations with
`share_views`) are stored once; the masks of the masked convolutions and the Gaussian
conditional's tables (fixed by the architecture and the default scale table) are rebuilt
on loading. `export_weights` rounds the weights to float16 *before*
`update()`, so the stored entropy-coder tables belong to exactly the weights a loader
gets back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.models.mvsfc.config import MvsfcConfig
from bench.models.mvsfc.model import MvsfcNet

WEIGHTS_FORMAT = "icm-bench/mvsfc/1"


def _unique_state(net: MvsfcNet) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    state, aliases, seen = {}, {}, {}
    for key, value in net.state_dict(keep_vars=False).items():
        if _rebuilt(key):
            continue
        ptr = (value.data_ptr(), value.dtype, tuple(value.shape))
        if value.numel() and ptr in seen:
            aliases[key] = seen[ptr]
            continue
        seen[ptr] = key
        state[key] = value.detach().clone().contiguous()
    return state, aliases


def _rebuilt(key: str) -> bool:
    return key.endswith(".mask") or key.startswith("gaussian_conditional.")


def round_to_half(net: MvsfcNet) -> None:
    """Round every floating-point parameter to float16 precision (kept as float32)."""
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.half().float())


def export_weights(net: MvsfcNet, path: str | Path, summary: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """Round to float16, update the entropy coders, save; returns what the card reports."""
    from bench.checkpoint import file_sha256, save_checkpoint

    net = net.cpu()
    round_to_half(net)
    net.update(force=True)
    state, aliases = _unique_state(net)
    state = {k: v.half() if v.is_floating_point() and not k.endswith(
        ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")) else v
        for k, v in state.items()}
    save_checkpoint(path, {"format": WEIGHTS_FORMAT, "config": net.cfg.to_dict(),
                           "state_dict": state, "aliases": aliases,
                           "summary": dict(summary or {})})
    return {"path": str(path), "sha256": file_sha256(path)[:16],
            "bytes": Path(path).stat().st_size,
            "parameters": net.parameter_counts()["total"]}


def load_weights(path: str | Path, device: str = "cpu") -> tuple[MvsfcNet, dict[str, Any]]:
    """The network of a weights file, in eval mode, ready to code; and the file's summary."""
    from compressai.models.google import get_scale_table

    from bench.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path, fmt=WEIGHTS_FORMAT)
    net = MvsfcNet(MvsfcConfig.from_dict(ckpt["config"]))
    net.gaussian_conditional.update_scale_table(get_scale_table(), force=True)
    fresh = net.state_dict()
    state = {k: v.float() if v.dtype == torch.float16 else v
             for k, v in ckpt["state_dict"].items()}
    for alias, key in ckpt.get("aliases", {}).items():
        state[alias] = state[key]
    for key, value in fresh.items():
        if _rebuilt(key):
            state[key] = value
    net.load_state_dict(state)
    return net.to(device).eval(), dict(ckpt.get("summary") or {})
