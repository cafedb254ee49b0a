"""NAVA joint audio-video generator: model, checkpoint loading and (elsewhere in the package) sampling."""

from nava_eval.nava.config import PRESETS, NavaConfig

__all__ = ["PRESETS", "NavaConfig"]
