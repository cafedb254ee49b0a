"""Speed benchmarks (`nava-eval bench ...`): each measures against a reference in the same run and records the machine."""
