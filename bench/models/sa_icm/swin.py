"""The attention blocks of LIC-TCM: Swin window attention, ConvTransBlock and SWAtten.

Written from the LIC-TCM paper's description (Liu et al., CVPR 2023) and the measured
module sizes of the authors' code: window multi-head self-attention with a learned
relative position bias per head, (shifted) windows with the Swin mask, a pre-norm
transformer layer with a 4x MLP; a ConvTransBlock splits its input (after a 1x1 conv)
into a residual-conv half and a Swin half and merges them back with a 1x1 conv and a
residual connection; SWAtten is Cheng's attention block whose mask branch sees the
output of a (W, SW) Swin pair, between 1x1 convolutions to and from `inter` channels.

Inputs whose sides are not multiples of the window are zero-padded inside the
attention and cropped after it (the authors' code requires whole windows).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from compressai.layers import AttentionBlock, ResidualBlock, conv1x1
from torch import Tensor, nn


class WindowAttention(nn.Module):
    """Multi-head self-attention inside (optionally shifted) square windows.

    Args:
        dim: channels of the tokens (channels-last input B x H x W x dim).
        head_dim: channels per head (dim // head_dim heads).
        window: side of a window in tokens.
        shifted: shift the windows by half a window (Swin's SW-MSA) and mask the
            attention between regions that the cyclic shift brought together.
    """

    def __init__(self, dim: int, head_dim: int, window: int, shifted: bool):
        super().__init__()
        self.heads = dim // head_dim
        self.head_dim = head_dim
        self.window = window
        self.shifted = shifted
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros(self.heads, 2 * window - 1, 2 * window - 1))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                            indexing="ij")).flatten(1)  # 2 x N
        rel = coords[:, :, None] - coords[:, None, :] + window - 1  # 2 x N x N
        self.register_buffer("rel_index", rel[0] * (2 * window - 1) + rel[1], persistent=False)
        self._masks: dict[tuple[int, int, str], Tensor] = {}

    def _shift_mask(self, hp: int, wp: int, device: torch.device) -> Tensor:
        """nW x N x N boolean mask, True where two tokens come from different regions."""
        key = (hp, wp, str(device))
        if key not in self._masks:
            w, s = self.window, self.window // 2
            labels = torch.zeros(hp, wp, dtype=torch.long)
            cuts = (slice(0, -w), slice(-w, -s), slice(-s, None))
            region = 0
            for hs in cuts:
                for ws in cuts:
                    labels[hs, ws] = region
                    region += 1
            win = labels.view(hp // w, w, wp // w, w).permute(0, 2, 1, 3).reshape(-1, w * w)
            self._masks[key] = (win[:, :, None] != win[:, None, :]).to(device)
        return self._masks[key]

    def forward(self, x: Tensor) -> Tensor:
        """B x H x W x C -> B x H x W x C."""
        b, h, w_, c = x.shape
        win = self.window
        ph, pw = (-h) % win, (-w_) % win
        if ph or pw:
            x = F.pad(x, (0, 0, 0, pw, 0, ph))
        hp, wp = h + ph, w_ + pw
        shift = win // 2 if self.shifted and min(hp, wp) > win else 0
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        nh, nw = hp // win, wp // win
        tokens = x.view(b, nh, win, nw, win, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, win * win, c)
        qkv = self.qkv(tokens).view(tokens.shape[0], win * win, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B*nW) x heads x N x hd
        attn = (q @ k.transpose(-2, -1)) * self.head_dim ** -0.5
        bias = self.bias_table.flatten(1)[:, self.rel_index.flatten()]
        attn = attn + bias.view(1, self.heads, win * win, win * win)
        if shift:
            mask = self._shift_mask(hp, wp, x.device)
            attn = attn.view(b, nh * nw, self.heads, win * win, win * win)
            attn = attn.masked_fill(mask[None, :, None], float("-inf")).flatten(0, 1)
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(-1, win * win, c)
        out = self.proj(out).view(b, nh, nw, win, win, c).permute(0, 1, 3, 2, 4, 5)
        out = out.reshape(b, hp, wp, c)
        if shift:
            out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
        return out[:, :h, :w_].contiguous() if (ph or pw) else out


class SwinLayer(nn.Module):
    """Pre-norm transformer layer: x + WMSA(LN(x)), then x + MLP(LN(x)) (channels-last)."""

    def __init__(self, dim: int, head_dim: int, window: int, shifted: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, head_dim, window, shifted)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _to_last(x: Tensor) -> Tensor:
    return x.permute(0, 2, 3, 1)


def _to_first(x: Tensor) -> Tensor:
    return x.permute(0, 3, 1, 2).contiguous()


class ConvTransBlock(nn.Module):
    """LIC-TCM's mixed block on 2n channels: a residual-conv half and a Swin half.

    Args:
        n: channels of each half (input and output have 2n channels).
        head_dim: head width of the Swin half.
        window: window of the Swin half.
        shifted: shifted windows (the odd blocks of a stage).
    """

    def __init__(self, n: int, head_dim: int, window: int, shifted: bool):
        super().__init__()
        self.n = n
        self.conv_in = nn.Conv2d(2 * n, 2 * n, 1)
        self.conv_out = nn.Conv2d(2 * n, 2 * n, 1)
        self.conv_block = ResidualBlock(n, n)
        self.trans_block = SwinLayer(n, head_dim, window, shifted)

    def forward(self, x: Tensor) -> Tensor:
        conv_x, trans_x = torch.split(self.conv_in(x), (self.n, self.n), dim=1)
        conv_x = self.conv_block(conv_x) + conv_x
        trans_x = _to_first(self.trans_block(_to_last(trans_x)))
        return x + self.conv_out(torch.cat((conv_x, trans_x), dim=1))


def conv_trans_stage(n: int, count: int, head_dim: int, window: int) -> list[nn.Module]:
    """`count` ConvTransBlocks, plain and shifted windows alternating (W, SW, W, ...)."""
    return [ConvTransBlock(n, head_dim, window, shifted=bool(i % 2)) for i in range(count)]


class SwinPair(nn.Module):
    """A W-MSA layer then an SW-MSA layer, on channels-first maps."""

    def __init__(self, dim: int, head_dim: int, window: int):
        super().__init__()
        self.block_1 = SwinLayer(dim, head_dim, window, shifted=False)
        self.block_2 = SwinLayer(dim, head_dim, window, shifted=True)

    def forward(self, x: Tensor) -> Tensor:
        return _to_first(self.block_2(self.block_1(_to_last(x))))


class SWAtten(AttentionBlock):
    """Swin-based attention of LIC-TCM's entropy model.

    in_conv (1x1, in -> inter); out = conv_a(u) * sigmoid(conv_b(SwinPair(u))) + u;
    out_conv (1x1, inter -> out). conv_a / conv_b are CompressAI's AttentionBlock units.
    """

    def __init__(self, in_ch: int, out_ch: int, head_dim: int, window: int, inter: int):
        super().__init__(inter)
        self.non_local_block = SwinPair(inter, head_dim, window)
        self.in_conv = conv1x1(in_ch, inter)
        self.out_conv = conv1x1(inter, out_ch)

    def forward(self, x: Tensor) -> Tensor:
        u = self.in_conv(x)
        out = self.conv_a(u) * torch.sigmoid(self.conv_b(self.non_local_block(u)))
        return self.out_conv(out + u)
