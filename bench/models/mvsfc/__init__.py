"""MVSFC-Net: stereo image coding for machines with joint visual feature compression."""

from bench.models.mvsfc.config import CONFIGS, PAPER, SMALL, MvsfcConfig, get_config
from bench.models.mvsfc.model import MvsfcNet

__all__ = ["CONFIGS", "PAPER", "SMALL", "MvsfcConfig", "MvsfcNet", "get_config"]
