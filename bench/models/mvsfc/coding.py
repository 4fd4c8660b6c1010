"""Serial entropy coding of the latents y with CompressAI's rANS coder.

The coded views share one rANS stream: at each latent position (raster order) the
entropy parameters of every coded view are computed from what is already decoded (the
spatial context of each view and, with the cross-view context, the other view's
context), then each view's M symbols are written, left before right. The decoder runs
the same `SerialContext` steps, so its parameters are computed exactly as the
encoder's were.
"""

from __future__ import annotations

from typing import Sequence

import torch
from compressai.ans import BufferedRansEncoder, RansDecoder
from compressai.entropy_models import GaussianConditional

from bench.models.mvsfc.context import EntropyParameters, SerialContext


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
            indexes.extend(gc.build_indexes(scales).reshape(-1).tolist())
    encoder = BufferedRansEncoder()
    encoder.encode_with_indexes(symbols, indexes, *_tables(gc))
    return encoder.flush(), state.latents()


@torch.no_grad()
def decode_latents(params: EntropyParameters, gc: GaussianConditional, views: Sequence[int],
                   string: bytes, hyper: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of encode_latents: the decoded latents of `views`."""
    state = SerialContext(params, views, hyper)
    decoder = RansDecoder()
    decoder.set_stream(string)
    cdf, lengths, offsets = _tables(gc)
    for h, w in state.positions():
        for i, (scales, means) in enumerate(state.params(h, w)):
            idx = gc.build_indexes(scales).reshape(-1).tolist()
            q = torch.tensor(decoder.decode_stream(idx, cdf, lengths, offsets),
                             dtype=means.dtype, device=means.device).reshape(means.shape)
            state.set(i, h, w, q + means)
    return state.latents()
