"""NAVA joint audio-video generator: model, checkpoint loading and (elsewhere in the package) sampling."""

from nava_eval.nava.config import ARCHITECTURES, NavaConfig

__all__ = ["ARCHITECTURES", "NavaConfig"]
