"""icm-bench: benchmarking and evaluation of image and feature coding for machines."""

__version__ = "0.1.0"
