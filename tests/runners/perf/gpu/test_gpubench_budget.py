"""Time boxes stop a section, keep what it measured, and leave no alarm behind."""

from __future__ import annotations

import time

import pytest
import torch

from nava_eval.runners.perf.gpu.budget import Deadline, SectionTimeout, time_box
from nava_eval.runners.perf.gpu.context import BenchContext
from nava_eval.runners.perf.gpu.plan import small_plan
from nava_eval.runners.perf.gpu.report import Measurement, SectionResult
from nava_eval.runners.perf.gpu.runner import Section, run_section


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_deadline_sub_never_outlives_its_parent() -> None:
    parent = Deadline(0.5)
    assert parent.sub(10.0).seconds <= 0.5
    assert parent.sub(0.1).seconds == pytest.approx(0.1)
    assert Deadline(0.0).remaining() == 0.0


def test_time_box_interrupts_and_is_cleared_afterwards() -> None:
    with pytest.raises(SectionTimeout), time_box(0.05) as enforced:
        assert enforced
        _spin(5.0)
    with time_box(0.2):
        pass
    _spin(0.3)  # an alarm left armed would fire here


def _ctx() -> BenchContext:
    return BenchContext(plan=small_plan(), device=torch.device("cpu"))


def test_section_past_its_box_times_out_and_keeps_its_rows() -> None:
    def slow(ctx, section, deadline):
        section.add(Measurement(label="first", seconds=0.1))
        _spin(5.0)

    result = SectionResult("slow", "Slow")
    run_section(_ctx(), Section("slow", "Slow", slow, 1.0), result, box_s=0.2)
    assert result.status == "timeout" and "0 s box" in result.error
    assert [m.label for m in result.measurements] == ["first"]
    assert result.seconds < 5.0


def test_failing_and_wrapped_timeout_sections() -> None:
    def broken(ctx, section, deadline):
        raise ValueError("bad shape [1, 2]")

    def wrapped(ctx, section, deadline):
        try:
            _spin(5.0)
        except SectionTimeout as err:  # as torch.compile does with errors inside its frames
            raise RuntimeError("backend compiler failed") from err

    result = SectionResult("broken", "Broken")
    run_section(_ctx(), Section("broken", "Broken", broken, 1.0), result, box_s=5.0)
    assert (result.status, result.error) == ("error", "ValueError: bad shape [1, 2]")
    result = SectionResult("wrapped", "Wrapped")
    run_section(_ctx(), Section("wrapped", "Wrapped", wrapped, 1.0), result, box_s=0.1)
    assert result.status == "timeout"
