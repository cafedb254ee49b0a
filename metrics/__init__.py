"""How outputs are scored: one module per metric, registered lazily in `metrics.base`."""
