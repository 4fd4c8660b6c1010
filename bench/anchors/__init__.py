"""MPEG anchor codec definitions (`include: <name>` in a spec), shipped as package data."""
