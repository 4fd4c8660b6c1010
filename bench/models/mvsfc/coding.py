"""Serial entropy coding of the latents y with CompressAI's rANS coder.

The coded views share one rANS stream: at each latent position (raster order) the
entropy parameters of every coded view are computed from what is already decoded (the
spatial context of each view and, with the cross-view context, the other view's
context), then each view's M symbols are written, left before right. The decoder runs
the same `SerialContext` steps, so its parameters are computed exactly as the
encoder's were.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.entropy_models import GaussianConditional

from bench.models.mvsfc.context import EntropyParameters, SerialContext


def build_indexes(gc: GaussianConditional, scales: torch.Tensor) -> torch.Tensor:
    """GaussianConditional.build_indexes without its Python loop over the scale table.

    The index of a scale is the number of table entries (all but the last) below it:
    the same integers as CompressAI's loop, in one comparison.
    """
    scales = gc.lower_bound_scale(scales)
    table = gc.scale_table[:-1].to(scales)
    return (scales.unsqueeze(-1) > table).sum(-1).int()


def _tables(gc: GaussianConditional) -> tuple[list, list, list]:
    return gc.quantized_cdf.tolist(), gc.cdf_length.reshape(-1).int().tolist(), \
        gc.offset.reshape(-1).int().tolist()


@torch.no_grad()
def encode_latents(params: EntropyParameters, gc: GaussianConditional, views: Sequence[int],
                   y: Sequence[torch.Tensor], hyper: Sequence[torch.Tensor]
                   ) -> tuple[bytes, list[torch.Tensor]]:
    """One rANS string for the latents `y` of `views` (each (1, M, H, W)).

    Returns:
        The string and the decoded latents (round(y - mean) + mean), as the decoder
        will rebuild them.
    """
    state = SerialContext(params, views, hyper)
    symbols: list[int] = []
    indexes: list[int] = []
    for h, w in state.positions():
        for i, (scales, means) in enumerate(state.params(h, w)):
            q = gc.quantize(y[i][:, :, h, w], "symbols", means)
            state.set(i, h, w, q.to(means.dtype) + means)
            symbols.extend(q.reshape(-1).tolist())
            indexes.extend(build_indexes(gc, scales).reshape(-1).tolist())
    encoder = BufferedRansEncoder()
    encoder.encode_with_indexes(symbols, indexes, *_tables(gc))
    return encoder.flush(), state.latents()


class _Tables:
    """The Gaussian conditional's CDF rows trimmed to their lengths, for small per-call tables.

    `RansDecoder.decode_stream` converts the CDF tables it is given on every call; a
    position needs only the rows its indexes use, so each call gets just those.
    """

    def __init__(self, gc: GaussianConditional):
        cdf, lengths, offsets = _tables(gc)
        self.rows = [row[:n] for row, n in zip(cdf, lengths)]
        self.lengths, self.offsets = lengths, offsets

    def subset(self, indexes: list[int]) -> tuple[list[int], list, list[int], list[int]]:
        used = sorted(set(indexes))
        remap = {u: i for i, u in enumerate(used)}
        return ([remap[i] for i in indexes], [self.rows[u] for u in used],
                [self.lengths[u] for u in used], [self.offsets[u] for u in used])


@torch.no_grad()
def decode_latents(params: EntropyParameters, gc: GaussianConditional, views: Sequence[int],
                   string: bytes, hyper: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of encode_latents: the decoded latents of `views`."""
    state = SerialContext(params, views, hyper)
    decoder = RansDecoder()
    decoder.set_stream(string)
    tables = _Tables(gc)
    for h, w in state.positions():
        per_view = state.params(h, w)
        indexes = [build_indexes(gc, scales).reshape(-1) for scales, _ in per_view]
        values = decoder.decode_stream(*tables.subset(torch.cat(indexes).tolist()))
        q = torch.tensor(values, dtype=per_view[0][1].dtype).reshape(len(per_view), -1)
        for i, (_, means) in enumerate(per_view):
            state.set(i, h, w, q[i:i + 1].to(means.device) + means)
    return state.latents()
