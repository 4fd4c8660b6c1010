"""Curves, Bjontegaard metrics and baseline comparison."""
