"""`nava-eval bench gpu`: one time-boxed, fail-soft benchmark of generation and scoring on one device.

plan.py says what is measured (the VerseBench shapes on a GPU, or tiny ones on CPU), the section
modules measure it, runner.py runs the sections inside a global budget and report.py writes the
JSON and the markdown table. docs/performance.md explains the figures.
"""
