"""A Hydra sweeper that drives a current Optuna (>= 3) with persistent storage."""
