"""LIC-TCM's analysis, synthesis and hyper transforms (SEEDS.md 4.2).

g_a: ResidualBlockWithStride(3 -> 2n) then three stages of ConvTransBlocks, each ending
in a stride-2 step (two ResidualBlockWithStride, the last a 3x3 conv to y's channels):
y is C x H/16 x W/16. g_s mirrors it (ResidualBlockUpsample, stages, subpel conv to 3).
h_a: ResidualBlockWithStride(C -> 2n), ConvTransBlocks, 3x3 stride-2 conv -> z at H/64.
h_mean_s and h_scale_s: ResidualBlockUpsample(z -> 2n), ConvTransBlocks, subpel -> C.
"""

from __future__ import annotations

from compressai.layers import (
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    conv3x3,
    subpel_conv3x3,
)
from torch import nn

from bench.models.sa_icm.config import TcmConfig
from bench.models.sa_icm.swin import conv_trans_stage


def analysis(cfg: TcmConfig) -> nn.Sequential:
    """g_a: 3 x H x W -> latent_channels x H/16 x W/16."""
    n2 = 2 * cfg.n
    layers: list[nn.Module] = [ResidualBlockWithStride(3, n2, stride=2)]
    ends = [ResidualBlockWithStride(n2, n2, stride=2), ResidualBlockWithStride(n2, n2, stride=2),
            conv3x3(n2, cfg.latent_channels, stride=2)]
    for stage, end in enumerate(ends):
        layers += conv_trans_stage(cfg.n, cfg.blocks[stage], cfg.head_dims[stage], cfg.window)
        layers.append(end)
    return nn.Sequential(*layers)


def synthesis(cfg: TcmConfig) -> nn.Sequential:
    """g_s: synthesis_channels x H/16 x W/16 -> 3 x H x W."""
    n2 = 2 * cfg.n
    layers: list[nn.Module] = [ResidualBlockUpsample(cfg.synthesis_channels, n2, 2)]
    ends = [ResidualBlockUpsample(n2, n2, 2), ResidualBlockUpsample(n2, n2, 2),
            subpel_conv3x3(n2, 3, 2)]
    for stage, end in enumerate(ends):
        layers += conv_trans_stage(cfg.n, cfg.blocks[3 + stage], cfg.head_dims[3 + stage],
                                   cfg.window)
        layers.append(end)
    return nn.Sequential(*layers)


def hyper_analysis(cfg: TcmConfig) -> nn.Sequential:
    """h_a: y (latent_channels x H/16) -> z (hyper_channels x H/64)."""
    n2 = 2 * cfg.n
    return nn.Sequential(
        ResidualBlockWithStride(cfg.latent_channels, n2, stride=2),
        *conv_trans_stage(cfg.n, cfg.hyper_blocks, cfg.hyper_head_dim, cfg.hyper_window),
        conv3x3(n2, cfg.hyper_channels, stride=2),
    )


def hyper_synthesis(cfg: TcmConfig) -> nn.Sequential:
    """h_mean_s / h_scale_s: z (hyper_channels x H/64) -> latent_channels x H/16."""
    n2 = 2 * cfg.n
    return nn.Sequential(
        ResidualBlockUpsample(cfg.hyper_channels, n2, 2),
        *conv_trans_stage(cfg.n, cfg.hyper_blocks, cfg.hyper_head_dim, cfg.hyper_window),
        subpel_conv3x3(n2, cfg.latent_channels, 2),
    )
