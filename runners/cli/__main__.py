"""`python -m nava_eval.runners.cli` (what torchrun launches)."""

from nava_eval.runners.cli.main import main

main()
