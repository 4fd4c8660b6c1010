"""Building blocks of MFCNet: the transforms of a coded path, gain units, FineNet's generator.

The analysis/synthesis stacks follow Cheng2020-anchor (CompressAI's residual blocks)
with the strides of the authors' BFCNet; the generator follows pix2pixHD's
`GlobalGenerator` without down/upsampling (reflection padding, InstanceNorm without
affine parameters, 7x7 input and output convolutions, Tanh output).
"""

from __future__ import annotations

import torch
from compressai.layers import (
    MaskedConv2d,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    conv3x3,
    subpel_conv3x3,
)
from torch import Tensor, nn


def analysis(in_ch: int, N: int, M: int, down: tuple[int, ...]) -> nn.Sequential:
    """g_a: (RBwStride(s) + RB) per stride in `down`, then a stride-2 3x3 conv to M."""
    layers: list[nn.Module] = []
    cin = in_ch
    for s in down:
        layers += [ResidualBlockWithStride(cin, N, stride=s), ResidualBlock(N, N)]
        cin = N
    layers.append(conv3x3(cin, M, stride=2))
    return nn.Sequential(*layers)


def hyper_analysis(N: int, M: int) -> nn.Sequential:
    """h_a: five 3x3 convs with LeakyReLU, one of them stride 2 (z at y / 2)."""
    return nn.Sequential(
        conv3x3(M, N), nn.LeakyReLU(inplace=True),
        conv3x3(N, N), nn.LeakyReLU(inplace=True),
        conv3x3(N, N, stride=2), nn.LeakyReLU(inplace=True),
        conv3x3(N, N), nn.LeakyReLU(inplace=True),
        conv3x3(N, N),
    )


def hyper_synthesis(N: int, M: int) -> nn.Sequential:
    """h_s: conv, subpel(r=1), conv(N -> 3N/2), subpel(r=2), conv(-> 2M): the Gaussian params."""
    return nn.Sequential(
        conv3x3(N, N), nn.LeakyReLU(inplace=True),
        subpel_conv3x3(N, N, 1), nn.LeakyReLU(inplace=True),
        conv3x3(N, N * 3 // 2), nn.LeakyReLU(inplace=True),
        subpel_conv3x3(N * 3 // 2, N * 3 // 2, 2), nn.LeakyReLU(inplace=True),
        conv3x3(N * 3 // 2, M * 2),
    )


def context_model(M: int) -> MaskedConv2d:
    """The serial autoregressive context: a 5x5 masked conv (M -> 2M)."""
    return MaskedConv2d(M, 2 * M, kernel_size=5, padding=2, stride=1)


def entropy_parameters(M: int) -> nn.Sequential:
    """1x1 convs from [hyper params, context] (4M) to means and scales (2M)."""
    return nn.Sequential(
        nn.Conv2d(M * 12 // 3, M * 10 // 3, 1), nn.LeakyReLU(inplace=True),
        nn.Conv2d(M * 10 // 3, M * 8 // 3, 1), nn.LeakyReLU(inplace=True),
        nn.Conv2d(M * 8 // 3, M * 6 // 3, 1),
    )


class SynthesisHeads(nn.Module):
    """g_s: a shared trunk (RB, then RBUp + RB per factor) and one head per target level.

    A head is (RBUp + RB) per extra factor, then a sub-pixel conv (r = 1) to the FPN width.
    """

    def __init__(self, M: int, N: int, out_ch: int, trunk_up: tuple[int, ...],
                 targets: tuple[str, ...], head_up: tuple[tuple[int, ...], ...]):
        super().__init__()
        trunk: list[nn.Module] = [ResidualBlock(M, N)]
        for u in trunk_up:
            trunk += [ResidualBlockUpsample(N, N, u), ResidualBlock(N, N)]
        self.trunk = nn.Sequential(*trunk)
        self.heads = nn.ModuleDict()
        for target, ups in zip(targets, head_up):
            head: list[nn.Module] = []
            for u in ups:
                head += [ResidualBlockUpsample(N, N, u), ResidualBlock(N, N)]
            head.append(subpel_conv3x3(N, out_ch, 1))
            self.heads[target] = nn.Sequential(*head)

    def forward(self, y_hat: Tensor) -> dict[str, Tensor]:
        t = self.trunk(y_hat)
        return {name: head(t) for name, head in self.heads.items()}


class RateGains(nn.Module):
    """Gain units (Cui et al., CVPR 2021): per rate point, channel gains on y and z.

    The encoder multiplies y by `gain[i]` before quantisation and the decoder multiplies
    the quantised latent by `inv_gain[i]`; the same for z. Initialised so that higher
    lambdas quantise more finely (gain ~ sqrt(lambda / max lambda)).
    """

    def __init__(self, lambdas: tuple[float, ...], M: int, N: int):
        super().__init__()
        top = max(lambdas)
        init = torch.tensor([(lam / top) ** 0.5 for lam in lambdas]).unsqueeze(1)
        self.gain = nn.Parameter(init.repeat(1, M))
        self.inv_gain = nn.Parameter((1.0 / init).repeat(1, M))
        self.hyper_gain = nn.Parameter(torch.ones(len(lambdas), N))
        self.hyper_inv_gain = nn.Parameter(torch.ones(len(lambdas), N))

    def forward(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(gain, inv_gain, hyper_gain, hyper_inv_gain) for a batch of indices, B x C x 1 x 1."""
        pick = [p[index].abs()[:, :, None, None] for p in
                (self.gain, self.inv_gain, self.hyper_gain, self.hyper_inv_gain)]
        return pick[0], pick[1], pick[2], pick[3]


class ResnetBlock(nn.Module):
    """x + [reflect-pad, 3x3 conv, InstanceNorm, ReLU, reflect-pad, 3x3 conv, InstanceNorm](x)."""

    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class GlobalGenerator(nn.Module):
    """pix2pixHD's global generator with no down/upsampling (in_ch -> ngf -> out_ch, Tanh)."""

    def __init__(self, in_ch: int, out_ch: int, ngf: int = 128, n_blocks: int = 9):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7), nn.InstanceNorm2d(ngf),
            nn.ReLU(inplace=True),
        ]
        layers += [ResnetBlock(ngf) for _ in range(n_blocks)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)
