"""Training: recipes, the generic trainer, and the programs that say what is trained."""
