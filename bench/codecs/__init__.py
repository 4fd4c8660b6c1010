"""Image and feature codecs."""
