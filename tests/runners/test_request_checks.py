"""Everything a command is asked is checked before any weight loads or any sample is generated."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from nava_eval.runners.cli.main import cli
from nava_eval.runners.request_checks import check_device, check_metric_names, check_scorer_weights


def test_metric_names_are_full_matched_against_the_registry():
    check_metric_names(["sync", "wer"])
    with pytest.raises(KeyError, match=r"unknown metric\(s\) 'nosuch'.*valid metrics: .*sync"):
        check_metric_names(["sync", "nosuch"])


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "cuda:0 ", "CPU", "cuda:-1", "mps:0"], ids=repr)
def test_device_spelling(bad):
    with pytest.raises(ValueError, match="cpu, cuda or cuda:N"):
        check_device(bad, nproc=1)


def test_cuda_devices_must_exist(monkeypatch):
    check_device("cpu", nproc=4)
    check_device(None, nproc=1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(ValueError, match="no CUDA device"):
        check_device("cuda:1", nproc=1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_device("cuda:1", nproc=1)
    with pytest.raises(ValueError, match=r"cuda:2: .*2 CUDA device\(s\).*cuda:0, cuda:1"):
        check_device("cuda:2", nproc=1)
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        check_device("cuda:1", nproc=2)


def test_scorer_weight_overrides_must_be_used_and_exist(tmp_path):
    weights = tmp_path / "syncnet_v2.model"
    weights.write_bytes(b"x")
    check_scorer_weights({"syncnet": str(weights)}, ["sync"])
    with pytest.raises(ValueError, match="syncnet_v3: no such scorer weight"):
        check_scorer_weights({"syncnet_v3": str(weights)}, ["sync"])
    with pytest.raises(ValueError, match="used by sync, not by the metrics of this run"):
        check_scorer_weights({"syncnet": str(weights)}, ["wer"])
    with pytest.raises(ValueError, match="no such file"):
        check_scorer_weights({"syncnet": str(tmp_path / "nope.model")}, ["sync"])


def test_cuda_n_is_the_device_a_single_process_generates_on(monkeypatch):
    """CPU twin of the GPU check: init_distributed places a plain process on the asked GPU."""
    from nava_eval.runners.distributed import init_distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    ctx = init_distributed(sp_size=1, env={}, device="cuda:1")
    assert ctx.device == torch.device("cuda", 1)
    assert init_distributed(sp_size=1, env={}, device="cpu").device == torch.device("cpu")


@pytest.mark.gpu
def test_cuda_n_is_honoured_on_a_gpu():
    """GPU check (CPU twin: test_cuda_n_is_the_device_a_single_process_generates_on)."""
    from nava_eval.runners.distributed import init_distributed

    last = torch.cuda.device_count() - 1
    assert init_distributed(sp_size=1, env={}, device=f"cuda:{last}").device == torch.device("cuda", last)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--metrics", "sync,nosuch"], "nosuch"),
        (["--device", "gpu"], "cpu, cuda or cuda:N"),
        (["--weights", "nosuch=/tmp/x"], "no such scorer weight"),
    ],
)
def test_run_refuses_bad_requests_before_generating_anything(tmp_path, args, expected):
    run_dir = tmp_path / "r"
    result = CliRunner().invoke(
        cli, ["run", "versebench", "--preset", "smoke", "--run-dir", str(run_dir), *args]
    )
    assert result.exit_code == 1 and expected in result.output, result.output
    assert not (run_dir / "samples.jsonl").exists() and not (run_dir / "outputs").exists()
