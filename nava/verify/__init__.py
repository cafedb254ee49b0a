"""`nava-eval verify-model`: the model and the sampler against the official release's reference vectors."""
