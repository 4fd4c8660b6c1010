"""Shared fixtures. tests/support holds test-only plugins (importable in spawned workers)."""

import sys
from pathlib import Path

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))
