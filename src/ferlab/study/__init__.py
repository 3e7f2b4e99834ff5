"""Studies across models and settings: `compare` (accuracy against cost), `sweep`
(hyperparameter sensitivity with Optuna) and `explain` (what the networks look at)."""
