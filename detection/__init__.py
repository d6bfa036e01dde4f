"""Detection stage: per-frame vehicle boxes from a detector backend."""
