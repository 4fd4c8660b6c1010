"""CI-CTX: ELIC's channel context, conditioned on the importance of the channel groups.

Group k (k >= 1) is predicted from the decoded groups 0..k-1, as in ELIC, plus k + 1
constant maps holding the importance of groups 0..k (what the decoder read from the
stream). The checkerboard spatial context inside each group is ELIC's, unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from compressai.latent_codecs import ChannelGroupsLatentCodec
from compressai.models.utils import conv
from torch import Tensor, nn


def importance_maps(w_groups: Tensor, upto: int, like: Tensor) -> Tensor:
    """(B, upto + 1, H, W) maps, channel j constant at group j's importance."""
    b, _, h, w = like.shape
    return w_groups[:, : upto + 1, None, None].to(like.dtype).expand(b, upto + 1, h, w)


class ImportanceChannelGroupsLatentCodec(ChannelGroupsLatentCodec):
    """ChannelGroupsLatentCodec whose channel context also sees the group importance."""

    _importance: Tensor | None = None

    def forward(self, y: Tensor, side_params: Tensor, importance: Tensor | None = None
                ) -> dict[str, Any]:
        with self._using(importance):
            return super().forward(y, side_params)

    def compress(self, y: Tensor, side_params: Tensor, importance: Tensor | None = None
                 ) -> dict[str, Any]:
        with self._using(importance):
            return super().compress(y, side_params)

    def decompress(self, strings: list, shape: list, side_params: Tensor,
                   importance: Tensor | None = None, **kwargs: Any) -> dict[str, Any]:
        with self._using(importance):
            return super().decompress(strings, shape, side_params, **kwargs)

    def _using(self, importance: Tensor | None) -> _Importance:
        if importance is None:
            raise ValueError("CI-CTX needs the group importance")
        return _Importance(self, importance)

    def _get_ctx_params(self, k: int, side_params: Tensor, y_hat_: list[Tensor]) -> Tensor:
        if k == 0:
            return side_params
        maps = importance_maps(self._importance, k, y_hat_[0])
        ctx = self.channel_context[f"y{k}"](torch.cat([*y_hat_[:k], maps], dim=1))
        return self.merge_params(ctx, side_params)


class _Importance:
    """Context manager that lends the importance to the codec for one call."""

    def __init__(self, codec: ImportanceChannelGroupsLatentCodec, importance: Tensor):
        self.codec, self.importance = codec, importance

    def __enter__(self) -> None:
        self.codec._importance = self.importance

    def __exit__(self, *exc: object) -> None:
        self.codec._importance = None


def set_context_widths(codec: ChannelGroupsLatentCodec, hidden: tuple[int, int]) -> None:
    """Rebuild ELIC's channel context g_ch^(k) with other hidden widths (same layout)."""
    groups = codec.groups
    for k in range(1, len(groups)):
        codec.channel_context[f"y{k}"] = nn.Sequential(
            conv(sum(groups[:k]), hidden[0], kernel_size=5, stride=1),
            nn.ReLU(inplace=True),
            conv(hidden[0], hidden[1], kernel_size=5, stride=1),
            nn.ReLU(inplace=True),
            conv(hidden[1], groups[k] * 2, kernel_size=5, stride=1),
        )


def widen_first_conv(seq: nn.Sequential, extra: int) -> None:
    """Give the first conv of `seq` `extra` more input channels (zero weights for them)."""
    old = seq[0]
    new = nn.Conv2d(old.in_channels + extra, old.out_channels, old.kernel_size,
                    stride=old.stride, padding=old.padding)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    seq[0] = new


def importance_context(codec: ChannelGroupsLatentCodec) -> ImportanceChannelGroupsLatentCodec:
    """Turn ELIC's channel-groups codec into CI-CTX (same submodules, wider channel context).

    The new input channels start with zero weights, so the widened context computes
    what ELIC's did until training changes them.
    """
    for k in range(1, len(codec.groups)):
        widen_first_conv(codec.channel_context[f"y{k}"], extra=k + 1)
    return ImportanceChannelGroupsLatentCodec(
        latent_codec=dict(codec.latent_codec.items()),
        channel_context=dict(codec.channel_context.items()),
        groups=codec.groups,
    )
