"""`python -m nava_eval ...` is `nava-eval ...` (useful under torchrun: `torchrun ... -m nava_eval run ...`)."""

from nava_eval.runners.cli.main import main

if __name__ == "__main__":
    main()
