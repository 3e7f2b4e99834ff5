"""Studies across models and settings: `compare` (accuracy against cost at matched compute, with
paired statistics) and `sweep` (hyperparameter sensitivity with Optuna, several workers)."""
