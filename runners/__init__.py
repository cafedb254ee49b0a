"""Orchestration: the only package that wires nava, benchmarks, metrics and reports together."""
