"""CI-ICM: channel-importance-driven learned image coding for machines (on ELIC).

Modules: `config` (sizes, switches, the `paper` and `small` configurations),
`importance` (CIG), `scaling` (FCGS and rate-level gains), `context` (CI-CTX),
`tsca` (task-specific channel adaptation), `side` (side information in the stream),
`model` (the network), `weights` (loading baseline weights into a wider network).
"""

from bench.models.ci_icm.config import CONFIGS, PAPER, SMALL, CiIcmConfig, get_config
from bench.models.ci_icm.model import CiIcm

__all__ = ["CONFIGS", "PAPER", "SMALL", "CiIcm", "CiIcmConfig", "get_config"]
