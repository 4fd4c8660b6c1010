"""Networks the project defines and trains itself, and their small committed weights."""
