"""Decode a clip once for every metric of a scoring pass that reads it the same way.

MOVA's `eval_av_quality.py` reads each mp4 once (torio's StreamingMediaDecoder with one output
stream per consumer: ImageBind frames at 0.5 fps, Synchformer frames at 25 fps, and the audio) and
hands the same tensors to IB-Score and DeSync. A `MediaCache` does the same here: metrics register
the streams they read (`register_frames(fps)`, `register_audio()`), and the first request for a file
decodes every registered stream in one demux pass. Later requests for that file, from any metric of
the pass, are answered from memory.

What is cached is exactly what each metric's own decoder returns (the same libavfilter `fps` graph,
the same float conversion), so sharing never changes a number: only how often a file is read.
Memory is bounded: entries are evicted least recently used past `max_bytes`, and the scorer
interleaves the metrics of a pass over chunks of items so a file's decode is still there when the
next metric asks for it (runners/score_parallel.py).

The SyncNet pass does not share: its protocol decodes through ffmpeg to JPEG files and back (the
lossy round trip is part of syncnet_python's numbers, metrics/media_decode.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

#: Default bound on decoded bytes held (frames at full resolution and audio): 2 GiB.
DEFAULT_MAX_BYTES = 2 << 30


class MediaDecodeProblem(ValueError):
    """A file this decoder cannot read as the protocol needs (no stream, no frames); the message says which."""


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 [channels, n], as torchaudio.load gives them
    sample_rate: int


@dataclass
class _Entry:
    frames: dict[Fraction, np.ndarray | MediaDecodeProblem] = field(default_factory=dict)
    audio: DecodedAudio | MediaDecodeProblem | None = None
    nbytes: int = 0
    reads: dict[object, int] = field(default_factory=dict)  # stream → requests answered


@dataclass
class CacheStats:
    decodes: int = 0  # demux passes over a file
    hits: int = 0  # requests answered from memory
    evictions: int = 0  # entries dropped for room (least recently used)
    released: int = 0  # streams dropped once every metric that registered them had read them
    peak_bytes: int = 0


class MediaCache:
    """Decoded frames and audio of recent files, shared by the metrics of one scoring pass."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.frame_rates: set[Fraction] = set()
        self.wants_audio = False
        # stream → how many metrics registered it: once that many requests for a file's stream are
        # answered, every metric of the pass has its copy and the cache lets it go.
        self.readers: dict[object, int] = {}
        self.stats = CacheStats()
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # metrics decode in worker threads
        self._file_locks: dict[tuple, threading.Lock] = {}

    # -- what the metrics of the pass read ---------------------------------------------------
    def register_frames(self, fps: Fraction) -> None:
        """A metric of the pass reads RGB frames through libavfilter's `fps` filter at `fps` (once per file)."""
        fps = Fraction(fps)
        self.frame_rates.add(fps)
        self.readers[fps] = self.readers.get(fps, 0) + 1

    def register_audio(self) -> None:
        """A metric of the pass reads every channel of the first audio stream as float32 (once per file)."""
        self.wants_audio = True
        self.readers[AUDIO] = self.readers.get(AUDIO, 0) + 1

    # -- requests ----------------------------------------------------------------------------
    def frames(self, path: Path, fps: Fraction, limit: int) -> np.ndarray:
        """The first `limit` RGB frames [T, H, W, 3] at `fps` (what `decode_frames_fps` returns)."""
        fps = Fraction(fps)
        self.frame_rates.add(fps)
        entry = self._entry(Path(path), want_frames=fps)
        found = entry.frames[fps]
        self._read(Path(path), fps)
        if isinstance(found, MediaDecodeProblem):
            raise found
        return found[:limit]

    def audio(self, path: Path) -> DecodedAudio:
        """Every channel of the first audio stream as float32 in [-1, 1] (torchaudio.load, normalize=True)."""
        self.wants_audio = True
        entry = self._entry(Path(path), want_audio=True)
        found = entry.audio
        self._read(Path(path), AUDIO)
        if isinstance(found, MediaDecodeProblem):
            raise found
        assert found is not None
        return found

    @property
    def held_bytes(self) -> int:
        return self._bytes

    # -- internals ---------------------------------------------------------------------------
    def _key(self, path: Path) -> tuple:
        st = path.stat()  # FileNotFoundError for a missing file, as the metrics' own decoders raise
        return (str(path.resolve()), st.st_size, st.st_mtime_ns)

    def _entry(self, path: Path, want_frames: Fraction | None = None, want_audio: bool = False) -> _Entry:
        key = self._key(path)
        with self._lock:
            file_lock = self._file_locks.setdefault(key, threading.Lock())
        with file_lock:  # one decode per file even when two threads ask at once
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and _covers(entry, want_frames, want_audio):
                    self._entries.move_to_end(key)
                    self.stats.hits += 1
                    return entry
            rates = set(self.frame_rates) | ({want_frames} if want_frames is not None else set())
            if entry is not None:  # a stream no metric had registered when the file was decoded
                rates -= set(entry.frames)
            fresh = decode_once(path, sorted(rates), self.wants_audio or want_audio)
            with self._lock:
                entry = self._entries.pop(key, None) or _Entry()
                self._bytes -= entry.nbytes
                entry.frames.update(fresh.frames)
                if fresh.audio is not None:
                    entry.audio = fresh.audio
                entry.nbytes = _nbytes(entry)
                self._entries[key] = entry
                self._bytes += entry.nbytes
                self.stats.decodes += 1
                self.stats.peak_bytes = max(self.stats.peak_bytes, self._bytes)
                self._evict(keep=key)
            return entry

    def _read(self, path: Path, stream: object) -> None:
        """Count a request; drop the stream once every metric that registered it has read it."""
        readers = self.readers.get(stream, 0)
        if readers == 0:
            return
        key = self._key(path)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            entry.reads[stream] = entry.reads.get(stream, 0) + 1
            if entry.reads[stream] < readers:
                return
            if stream is AUDIO:
                entry.audio = None
            else:
                entry.frames.pop(stream, None)  # type: ignore[call-overload]
            self.stats.released += 1
            self._bytes -= entry.nbytes
            entry.nbytes = _nbytes(entry)
            self._bytes += entry.nbytes
            if not entry.frames and entry.audio is None:
                del self._entries[key]
                self._file_locks.pop(key, None)

    def _evict(self, keep: tuple) -> None:
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            key, entry = next(iter(self._entries.items()))
            if key == keep:
                self._entries.move_to_end(key)
                continue
            del self._entries[key]
            self._file_locks.pop(key, None)
            self._bytes -= entry.nbytes
            self.stats.evictions += 1


AUDIO = "audio"  # the audio stream's key in `readers` and `_Entry.reads`


def _covers(entry: _Entry, fps: Fraction | None, audio: bool) -> bool:
    return (fps is None or fps in entry.frames) and (not audio or entry.audio is not None)


def _nbytes(entry: _Entry) -> int:
    total = sum(a.nbytes for a in entry.frames.values() if isinstance(a, np.ndarray))
    if isinstance(entry.audio, DecodedAudio):
        total += entry.audio.samples.nbytes
    return total


def decode_once(path: Path, rates: list[Fraction], audio: bool) -> _Entry:
    """One demux pass: RGB frames through an `fps` filter graph per rate, and the audio, as float32."""
    import av

    entry = _Entry()
    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        sound = container.streams.audio[0] if container.streams.audio else None
        if rates and video is None:
            entry.frames = {r: MediaDecodeProblem("no video stream") for r in rates}
        if audio and sound is None:
            entry.audio = MediaDecodeProblem("no audio stream")
        graphs = {r: _FpsGraph(video, r) for r in rates} if video is not None else {}
        chunks: list[np.ndarray] = []
        rate = sound.codec_context.sample_rate if sound is not None else 0
        streams = [s for s in (video if graphs else None, sound if audio else None) if s is not None]
        for packet in container.demux(*streams) if streams else ():
            for frame in packet.decode():
                if packet.stream is sound:
                    data = frame.to_ndarray()
                    if not frame.format.is_planar:
                        data = data.reshape(-1, len(frame.layout.channels)).T
                    chunks.append(_to_float(data, frame.format.name))
                    rate = frame.sample_rate
                else:
                    for graph in graphs.values():
                        graph.push(frame)
        for r, graph in graphs.items():
            graph.push(None)  # end of stream: the filter flushes its last frame
            got = graph.frames
            entry.frames[r] = np.stack(got) if got else MediaDecodeProblem("the video stream has no frames")
        if audio and sound is not None:
            entry.audio = (
                DecodedAudio(np.concatenate(chunks, axis=1).astype(np.float32, copy=False), int(rate))
                if chunks
                else MediaDecodeProblem("the audio stream has no samples")
            )
    return entry


class _FpsGraph:
    """libavfilter `fps` → `format=rgb24`, the chain torio's decoder (and `decode_frames_fps`) builds."""

    def __init__(self, stream: object, fps: Fraction) -> None:
        import av

        self.frames: list[np.ndarray] = []
        self._graph = av.filter.Graph()
        source = self._graph.add_buffer(template=stream)
        rate = self._graph.add("fps", f"{fps.numerator}/{fps.denominator}")
        fmt = self._graph.add("format", "rgb24")
        sink = self._graph.add("buffersink")
        source.link_to(rate)
        rate.link_to(fmt)
        fmt.link_to(sink)
        self._graph.configure()

    def push(self, frame: object) -> None:
        import av

        self._graph.push(frame)
        while True:
            try:
                self.frames.append(self._graph.pull().to_ndarray())
            except (av.error.BlockingIOError, av.error.EOFError):
                return


def _to_float(data: np.ndarray, fmt: str) -> np.ndarray:
    if fmt.startswith(("flt", "dbl")):
        return data.astype(np.float32, copy=False)
    if fmt.startswith("s16"):
        return data.astype(np.float32) / 32768.0
    if fmt.startswith("s32"):
        return data.astype(np.float32) / 2147483648.0
    if fmt.startswith("u8"):
        return (data.astype(np.float32) - 128.0) / 128.0
    raise MediaDecodeProblem(f"unsupported audio sample format {fmt}")
