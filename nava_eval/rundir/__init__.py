"""The run directory: the one contract between generate, score and report.

Every stage reads and writes a run only through this package: the layout and output paths
(`layout`), the unit key of a sample (`unit`), run.json (`run_file`, `provenance`), sample and
score records and results.json (`records`, JSON Schemas in `schemas/`), file identity (`identity`),
the lock (`lock`), inputs hashes (`inputs_hash`), and atomic writes, JSONL and sha256 (`files`).
docs/architecture.md draws the contract.
"""
