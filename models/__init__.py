"""Default model files: the manifest (names, hashes, licences, origins) and how a model is found."""
