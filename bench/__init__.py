"""icm-bench: benchmarking and evaluation of image and feature coding for machines."""

import warnings

__version__ = "0.1.0"

# CompressAI 1.2.8 calls torch.jit.script when it is imported; torch >= 2.10 warns about
# that on every import (workers included). It says nothing about a user's run: hide that
# one message, and only it.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                        category=FutureWarning)
