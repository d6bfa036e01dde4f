"""Configuration: the schema of every key, loading, validation, camera layouts, paths."""
