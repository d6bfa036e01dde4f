"""Multi-camera stage: constrained clustering of tracklets into global identities."""
