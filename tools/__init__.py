"""Command-line helpers: model download, config reference, demo data."""
