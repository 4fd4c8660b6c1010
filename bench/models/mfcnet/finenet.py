"""FineNet: the decoder-side prediction of the large-scale P2 from the decoded P3.

P2-hat = U(P3-hat) + G(U(P3-hat)), U a bilinear x2 upsampling and G a pix2pixHD-style
global generator (authors' code, older commits). It runs in the normalised domain
and costs no bits.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from bench.models.mfcnet.layers import GlobalGenerator


class FineNet(nn.Module):
    """Predict a level at twice the resolution of its input (same channels).

    Args:
        channels: FPN channels (in and out).
        ngf: generator width (128 in the paper).
        n_blocks: residual blocks of the generator (9 in the paper).
    """

    def __init__(self, channels: int, ngf: int = 128, n_blocks: int = 9):
        super().__init__()
        self.generator = GlobalGenerator(channels, channels, ngf, n_blocks)

    def forward(self, coarse: Tensor) -> Tensor:
        """B x C x h x w -> B x C x 2h x 2w."""
        up = F.interpolate(coarse, scale_factor=2.0, mode="bilinear", align_corners=False)
        return up + self.generator(up)
