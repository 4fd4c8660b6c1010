"""Dataset manifests (`dataset: {manifest: <name>}` in a spec), shipped as package data."""
