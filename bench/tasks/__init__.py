"""Task networks (with split points) and their evaluators."""
