"""The model engine: backends, GGUF metadata, templates and the single inference worker."""
