"""Evaluation stage: MOTChallenge-style metrics against ground truth."""
