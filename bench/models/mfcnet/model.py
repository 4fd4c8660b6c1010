"""The MFCNet system: coded paths, FineNet and normalisation, with real compress/decompress.

`MfcNet.forward` works on batches of already normalised features (training);
`compress` takes one image's raw FPN features (P2..P5) and returns one byte string
holding the header and every coded path; `decompress` returns P2..P5 (P6 is
max-pool(P5), recomputed by the task head or `p6_from_p5`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from compressai.models import CompressionModel
from torch import Tensor, nn

from bench.models.mfcnet.config import LEVELS, MfcNetConfig
from bench.models.mfcnet.finenet import FineNet
from bench.models.mfcnet.normalise import (
    batch_range,
    crop,
    denormalise,
    fpn_shapes,
    joint_range,
    normalise,
    pad_to,
    padded_size,
)
from bench.models.mfcnet.path_codec import FeaturePathCodec
from bench.models.mfcnet.stream import StreamContent, read_stream, write_stream


class MfcNet(CompressionModel):
    """Every coded path of one configuration, plus FineNet when P2 is predicted."""

    def __init__(self, config: MfcNetConfig):
        super().__init__()
        config.check()
        self.config = config
        lambdas = config.lambdas if config.n_rates else None
        self.paths = nn.ModuleDict({
            p.name: FeaturePathCodec(p, config.channels, config.N, config.M, lambdas)
            for p in config.paths})
        pred = config.predictor
        self.finenet = FineNet(config.channels, pred.ngf, pred.n_blocks) if pred else None

    # ------------------------------------------------------------ training

    def forward(self, feats: Mapping[str, Tensor], index: Tensor | int | None = None,
                paths: tuple[str, ...] | None = None, predict: bool = True) -> dict[str, Any]:
        """Reconstruct normalised levels from normalised B x C x h x w features.

        Args:
            feats: P2..P5 in [0, 1] (per-sample normalisation done by the caller).
            index: rate index per sample (or one for all) when the model has gain units.
            paths: only these paths (default all).
            predict: run FineNet when its source level is reconstructed.

        Returns:
            {"levels": {level: B x C x h x w at the input's size},
             "likelihoods": {path: {"y": ..., "z": ...}}, "padded": {level: uncropped}}.
        """
        levels: dict[str, Tensor] = {}
        padded: dict[str, Tensor] = {}
        likelihoods: dict[str, dict[str, Tensor]] = {}
        for name in paths or tuple(self.paths):
            spec = self.config.path(name)
            src = feats[spec.source]
            size = padded_size(*src.shape[-2:], spec.pad_multiple, spec.pad_min)
            out = self.paths[name](pad_to(src, *size), index)
            likelihoods[name] = out["likelihoods"]
            for target, rec in out["outputs"].items():
                padded[target] = rec
                levels[target] = crop(rec, *feats[target].shape[-2:])
        pred = self.config.predictor
        if predict and self.finenet is not None and pred.source in padded:
            fine = self.finenet(padded[pred.source])
            padded[pred.target] = fine
            levels[pred.target] = crop(fine, *feats[pred.target].shape[-2:])
        return {"levels": levels, "likelihoods": likelihoods, "padded": padded}

    def normalise_batch(self, feats: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], list]:
        """Per-sample joint min/max normalisation of each group (training)."""
        out: dict[str, Tensor] = {}
        ranges = []
        for group in self.config.groups:
            lo, hi = batch_range(feats[lv] for lv in group)
            ranges.append((lo, hi))
            for lv in group:
                out[lv] = normalise(feats[lv], lo, hi)
        return out, ranges

    # ------------------------------------------------------------ coding

    def _check_index(self, index: int | None) -> int | None:
        n = self.config.n_rates
        if n == 0:
            if index not in (None, 0):
                raise ValueError("this model has one rate point (index 0)")
            return None
        if index is None or not 0 <= int(index) < n:
            raise ValueError(f"rate index must be 0..{n - 1}, got {index!r}")
        return int(index)

    @torch.no_grad()
    def compress(self, feats: Mapping[str, Tensor], index: int | None = None) -> bytes:
        """Code one image's P2..P5 (each C x h x w, raw values) into one byte string."""
        index = self._check_index(index)
        device = next(self.parameters()).device
        x = {lv: torch.as_tensor(feats[lv], dtype=torch.float32, device=device)
             for lv in LEVELS}
        for lv, t in x.items():
            if t.dim() != 3 or t.shape[0] != self.config.channels:
                raise ValueError(f"{lv}: expected {self.config.channels} x H x W, got "
                                 f"{tuple(t.shape)}")
        sizes = {lv: tuple(int(n) for n in t.shape[-2:]) for lv, t in x.items()}
        ranges = tuple(joint_range(x[lv] for lv in g) for g in self.config.groups)
        strings = []
        for spec in self.config.paths:
            lo, hi = ranges[self.config.group_of(spec.source)]
            src = normalise(x[spec.source], lo, hi)[None]
            src = pad_to(src, *padded_size(*sizes[spec.source], spec.pad_multiple, spec.pad_min))
            coded = self.paths[spec.name].compress(src, index)
            strings.append(tuple(coded["strings"]))
        derived = sizes == fpn_shapes(sizes[LEVELS[0]], LEVELS)
        content = StreamContent(index, sizes, ranges, tuple(strings))
        return write_stream(content, LEVELS, derived)

    def parse(self, data: bytes) -> StreamContent:
        """Read a stream's header and strings (StreamError when malformed)."""
        return read_stream(data, LEVELS, len(self.config.groups), tuple(2 for _ in self.paths),
                           self.config.n_rates > 0, lambda p2: fpn_shapes(p2, LEVELS))

    @torch.no_grad()
    def decompress(self, data: bytes) -> dict[str, Tensor]:
        """P2..P5 (C x h x w, raw values) from a byte string of `compress`."""
        content = self.parse(data)
        padded: dict[str, Tensor] = {}
        for spec, strings in zip(self.config.paths, content.strings):
            size = padded_size(*content.sizes[spec.source], spec.pad_multiple, spec.pad_min)
            z_shape = (size[0] // (spec.y_stride * 2), size[1] // (spec.y_stride * 2))
            out = self.paths[spec.name].decompress(list(strings), z_shape, content.rate_index)
            padded.update({k: v.clamp(0, 1) for k, v in out.items()})
        pred = self.config.predictor
        if pred is not None:
            padded[pred.target] = self.finenet(padded[pred.source]).clamp(0, 1)
        out: dict[str, Tensor] = {}
        for lv in LEVELS:
            lo, hi = content.ranges[self.config.group_of(lv)]
            out[lv] = denormalise(crop(padded[lv][0], *content.sizes[lv]), lo, hi)
        return out


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (entropy-bottleneck quantiles included, buffers not)."""
    return sum(p.numel() for p in module.parameters())
