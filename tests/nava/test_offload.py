"""Group offload moves where the DiT blocks live, never what they compute."""

from __future__ import annotations

import pytest
import torch

from nava_eval.nava.components import build_components
from nava_eval.nava.offload import apply_group_offload
from nava_eval.nava.pipeline import NavaPipeline, PipelineOptions, Request


def test_group_offload_outputs_are_identical_and_hooks_cover_every_group() -> None:
    request = Request(id="g", prompt="a bell rings <S>hello<E>", width=48, height=64, frames=2, steps=2)
    plain = NavaPipeline(build_components("nava-tiny"), PipelineOptions(image_size=64))(request)
    components = build_components("nava-tiny")
    model = components.model
    blocks = len(model.double_blocks) + len(model.single_blocks) + len(model.double_final_blocks)
    offload = apply_group_offload(model, 2, components.device)
    assert len(offload.groups) == -(-blocks // 2) and len(offload.handles) == len(offload.groups)
    offloaded = NavaPipeline(components, PipelineOptions(image_size=64))(request)
    assert torch.equal(plain.video, offloaded.video) and torch.equal(plain.audio, offloaded.audio)
    offload.remove()
    with pytest.raises(ValueError, match="group size must be >= 1"):
        apply_group_offload(model, 0, "cpu")
