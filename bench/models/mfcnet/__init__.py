"""MFCNet/BFCNet (Liu et al., ICASSP 2023): mutual multi-scale feature compression at the
FPN split of a detector. See bench/models/mfcnet.md for the model card.

- `config`: the `paper` and `small` configurations and the ablation variants;
- `layers`, `path_codec`: the BFCNet-style coded paths (hyperprior + serial AR context);
- `finenet`: the P2 prediction from the decoded P3;
- `normalise`, `stream`: per-image min/max, padding, and the bitstream;
- `model`: the whole system with real compress/decompress.
"""

from bench.models.mfcnet.config import (
    LEVELS,
    VARIANTS,
    FineNetSpec,
    MfcNetConfig,
    PathSpec,
    build_config,
    paper_config,
    small_config,
)
from bench.models.mfcnet.model import MfcNet, count_parameters

__all__ = [
    "LEVELS",
    "VARIANTS",
    "FineNetSpec",
    "MfcNet",
    "MfcNetConfig",
    "PathSpec",
    "build_config",
    "count_parameters",
    "paper_config",
    "small_config",
]
