"""SA-ICM with a feature fusion network: scalable coding for machines and humans.

Modules: `config` (the `paper` and `small` configurations), `swin` (window attention,
ConvTransBlock, SWAtten), `transforms` (g_a, g_s, h_a, h_s), `entropy` (the channel-wise
autoregressive model), `tcm` (LIC-TCM with optional gain units: the SA-ICM base and the
MSE baseline), `fusion` (slice-wise addition, learned fusion), `ica` (the
additional-information codec), `scalable` (both layers), `masks` (the mask provider of
the mask-weighted distortion).
"""

from bench.models.sa_icm.config import CONFIGS, PAPER, SMALL, SaIcmConfig, TcmConfig, get_config
from bench.models.sa_icm.ica import AdditionalInfoNet
from bench.models.sa_icm.scalable import ScalableSaIcm
from bench.models.sa_icm.tcm import TcmNet, count_parameters

__all__ = ["CONFIGS", "PAPER", "SMALL", "AdditionalInfoNet", "SaIcmConfig", "ScalableSaIcm",
           "TcmConfig", "TcmNet", "count_parameters", "get_config"]
