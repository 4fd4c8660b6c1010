"""Training programs (one per model family), registered in bench.registry.PROGRAMS."""
