"""The NAVA MMDiT (Align-then-Fuse): alignment (double-stream) then fusion (single-stream) blocks."""

from nava_eval.nava.modeling.model import NavaModel, NavaOutput

__all__ = ["NavaModel", "NavaOutput"]
