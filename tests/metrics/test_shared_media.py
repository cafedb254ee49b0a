"""Decoding a clip once for every metric of a pass: same arrays as a metric's own decode, bounded memory,
and a scoring pass whose records equal those of scoring each metric on its own."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreOutcome
from nava_eval.metrics.media_decode import ffmpeg_exe
from nava_eval.metrics.shared_media import MediaCache, MediaDecodeProblem
from tests.av_reference_clips import CLIPS, build_clip

NAMES = ("landscape_25fps_sync", "portrait_2997fps", "short_0p4s", "no_audio_stream", "long_8s_24fps")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {s.name: build_clip(s, folder, ffmpeg_exe()) for s in CLIPS if s.name in NAMES}


def _separate_decode(path: Path, fps: Fraction, limit: int) -> np.ndarray:
    """The decode each metric did on its own before sharing: one pass per stream, stopped at `limit`."""
    import av

    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        rate, fmt, sink = (
            graph.add("fps", f"{fps.numerator}/{fps.denominator}"),
            graph.add("format", "rgb24"),
            graph.add("buffersink"),
        )
        source.link_to(rate), rate.link_to(fmt), fmt.link_to(sink)
        graph.configure()

        def drain() -> None:
            while len(frames) < limit:
                try:
                    frames.append(graph.pull().to_ndarray())
                except (av.error.BlockingIOError, av.error.EOFError):
                    return

        for frame in container.decode(stream):
            if len(frames) >= limit:
                break
            graph.push(frame)
            drain()
        if len(frames) < limit:
            graph.push(None)
            drain()
    return np.stack(frames) if frames else np.zeros((0,), np.uint8)


def _separate_audio(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().astype(np.float32) for f in container.decode(stream)]
    return np.concatenate(chunks, axis=1)


@pytest.mark.parametrize("name", ["landscape_25fps_sync", "portrait_2997fps", "short_0p4s", "long_8s_24fps"])
def test_one_pass_gives_what_each_separate_decode_gave(clips, name: str) -> None:
    cache = MediaCache()
    for fps in (Fraction(1, 2), Fraction(25), Fraction(25)):  # two metrics read the 25-fps frames
        cache.register_frames(fps)
    cache.register_audio()
    for fps, limit in ((Fraction(1, 2), 4), (Fraction(25), 10_000), (Fraction(25), 7)):
        theirs = _separate_decode(clips[name], fps, limit)
        if theirs.size == 0:  # 0.4 s at 0.5 fps: libavfilter's fps filter emits no frame either way
            with pytest.raises(MediaDecodeProblem, match="no frames"):
                cache.frames(clips[name], fps, limit)
            continue
        assert np.array_equal(cache.frames(clips[name], fps, limit), theirs), (name, fps, limit)
    audio = cache.audio(clips[name])
    assert np.array_equal(audio.samples, _separate_audio(clips[name]))  # fltp: floats as decoded
    assert cache.stats.decodes == 1 and cache.stats.hits == 3
    # Every registered reader has its copy: the cache holds nothing of the clip any more.
    assert cache.stats.released == 3 and cache.held_bytes == 0


def test_a_missing_stream_is_the_protocol_problem_not_a_crash(clips) -> None:
    cache = MediaCache()
    cache.register_audio()
    with pytest.raises(MediaDecodeProblem, match="no audio stream"):
        cache.audio(clips["no_audio_stream"])
    assert len(cache.frames(clips["no_audio_stream"], Fraction(25), 100)) == 40
    with pytest.raises(FileNotFoundError):
        cache.frames(clips["no_audio_stream"].with_name("absent.mp4"), Fraction(25), 1)


def test_memory_stays_bounded_and_a_changed_file_is_decoded_again(clips, tmp_path) -> None:
    one = MediaCache()
    one.register_frames(Fraction(25))
    size = one.frames(clips["long_8s_24fps"], Fraction(25), 10_000).nbytes
    cache = MediaCache(max_bytes=size)  # room for about one long clip
    cache.register_frames(Fraction(25))
    cache.register_frames(Fraction(25))  # a second reader that never comes: only the bound frees memory
    for name in NAMES:
        if name != "no_audio_stream":
            cache.frames(clips[name], Fraction(25), 1)
            assert cache.held_bytes <= max(size, cache.stats.peak_bytes)
    assert cache.stats.evictions >= 1 and cache.held_bytes <= 2 * size

    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clips["short_0p4s"].read_bytes())
    first = cache.frames(copy, Fraction(25), 100)
    copy.write_bytes(clips["portrait_2997fps"].read_bytes())  # same name, other bytes
    assert cache.frames(copy, Fraction(25), 100).shape != first.shape


class _FrameSum(BaseMetric):
    """A test metric reading frames at one rate and the audio through `self.media`."""

    name = "frame_sum"
    protocol = "frame-sum/test-v1"
    fields = (MetricField("frame_sum", "higher"),)
    description = "test"
    media_audio = True

    def __init__(self, name: str, fps: Fraction) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self.media_frame_rates = (fps,)  # type: ignore[misc]
        self.fps = fps

    def _loaded(self) -> bool:
        return True

    def _load(self, device: str) -> None:
        pass

    def score_batch(self, items):
        out = []
        for it in items:
            try:
                frames = self.media.frames(it.output, self.fps, 10_000)
                audio = self.media.audio(it.output)
            except MediaDecodeProblem as exc:
                out.append(ScoreOutcome.skipped(str(exc)))
                continue
            out.append(
                ScoreOutcome.ok(frame_sum=float(frames.astype(np.int64).sum()) + float(audio.samples.sum()))
            )
        return out


def _run_dir(tmp_path: Path, clips: dict[str, Path]):
    from nava_eval.benchmarks.base import Sample
    from nava_eval.rundir.files import append_jsonl, sha256_file
    from nava_eval.rundir.layout import RunDir
    from nava_eval.rundir.records import SampleRecord
    from nava_eval.rundir.schema import to_dict

    run_dir = RunDir(tmp_path)
    samples = [Sample(id=name, set="set1", prompt="p") for name in NAMES]
    for sample in samples:
        path = tmp_path / "outputs" / f"{sample.id}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(clips[sample.id].read_bytes())
        rec = SampleRecord(id=sample.id, set="set1", status="done", output=f"outputs/{sample.id}.mp4",
                           output_sha256=sha256_file(path))  # fmt: skip
        append_jsonl(run_dir.samples, to_dict(rec))
    return run_dir, samples


def test_a_pass_decodes_each_clip_once_and_writes_what_separate_passes_write(clips, tmp_path) -> None:
    from nava_eval.rundir.unit import Unit
    from nava_eval.runners.score import score_metric
    from nava_eval.runners.score_parallel import score_decoding_once, sharing_group

    def metrics():
        return [_FrameSum("sum_half", Fraction(1, 2)), _FrameSum("sum_25", Fraction(25))]

    shared_dir, samples = _run_dir(tmp_path / "shared", clips)
    records = shared_dir.records()
    units = {m.name: [Unit(s.id) for s in samples] for m in metrics()}
    group = sharing_group(metrics())
    assert [m.name for m in group] == ["sum_half", "sum_25"]
    summaries = score_decoding_once(
        shared_dir, samples, records, group, units, batch_size=2, device="cpu", share=(0, 1),
        index=shared_dir.file_index(), progress=False, world=1,
    )  # fmt: skip
    cache = group[0].media
    assert cache is group[1].media
    assert cache.stats.decodes == len(NAMES)  # once per clip, for both metrics
    assert summaries["sum_25"].scored == len(NAMES) - 1 and summaries["sum_25"].skipped == 1

    alone_dir, _ = _run_dir(tmp_path / "alone", clips)
    for metric in metrics():
        score_metric(
            alone_dir, samples, alone_dir.records(), metric, units=units[metric.name], progress=False
        )
    for name in ("sum_half", "sum_25"):
        shared = {u: (r.status, r.value) for u, r in shared_dir.score_records(name).items()}
        alone = {u: (r.status, r.value) for u, r in alone_dir.score_records(name).items()}
        assert shared == alone and len(shared) == len(NAMES)


def test_ib_declares_the_streams_it_reads() -> None:
    from nava_eval.metrics.ib import ImageBindScore
    from nava_eval.metrics.imagebind_data import IB_FPS

    assert ImageBindScore.media_frame_rates == (IB_FPS,) and ImageBindScore.media_audio
