"""Which channel of a generated file an audio metric reads (`--channel`), and the protocol id it gives.

Every audio metric that decodes through `metrics.speech_audio` declares `official_channel`: the
reading its official loader makes of a multichannel file. Seed-TTS-eval's WER and SIM scripts read
with soundfile, which keeps the channels, and use the first (`left`); the Verse-Bench toolkit's
SenseVoice (torchaudio via funasr), Audiobox Aesthetics (torchaudio) and CLAP (librosa `mono=True`)
average the channels (`mean`). That reading is the default, and the only one under the official
protocol id. `--channel left|right|mean` asks for another reading; a reading other than the
official one is a protocol variant, `<protocol>+channel-<reading>`, so its number never shares a
column with the official one. A mono file has one channel: `left` and `mean` read it, `right` fails.

NAVA's output has no speech channel and no scene channel. The release decodes audio with LTX-2.3's
audio VAE into left/right stereo, and trains it on left/right stereo: its `local_audio_vae.py`
downmixes 5.0/5.1/7.1 inputs to L/R (ITU-R BS.775) and copies mono inputs to both sides. Speech and
scene sound are mixed in both channels. So `speech` and `scene` are refused with that reason
rather than mapped to a channel that does not hold them (docs/protocols/channels.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nava_eval.errors import UserError
from nava_eval.metrics.speech_audio import Audio, AudioLoadError

__all__ = [
    "READINGS",
    "ChannelReading",
    "MissingChannelError",
    "UnknownChannelError",
    "channel_options",
    "check_channel",
    "takes_channel",
]

#: The readings `--channel` offers: channel 0, channel 1, the mean over channels.
READINGS = ("left", "right", "mean")
#: Names asked for in issue 24 that NAVA's output layout does not have.
NO_SUCH_SPLIT = ("speech", "scene")
NO_SPLIT_REASON = (
    "NAVA writes no separate speech or scene channel: its LTX-2.3 audio VAE decodes left/right stereo "
    "with speech and scene sound mixed in both (nava_src/vae/local_audio_vae.py downmixes training audio "
    "to L/R and copies mono to both sides). Use --channel left, right or mean"
)


class UnknownChannelError(UserError, ValueError):
    """`--channel` names a reading that does not exist; the message lists the ones that do."""


class MissingChannelError(AudioLoadError):
    """The file has fewer channels than the reading needs (`right` of a mono file)."""


def check_channel(channel: str | None) -> str | None:
    """`channel` if it is a reading (None: each metric's official one); UnknownChannelError otherwise."""
    if channel is None or channel in READINGS:
        return channel
    if channel in NO_SUCH_SPLIT:
        raise UnknownChannelError(f"--channel {channel}: {NO_SPLIT_REASON}")
    raise UnknownChannelError(f"--channel {channel!r}: valid readings are {', '.join(READINGS)}")


def takes_channel(metric_cls: Any) -> bool:
    """Whether a metric class offers `--channel` (it declares the channel its protocol reads)."""
    return getattr(metric_cls, "official_channel", None) in READINGS


def channel_options(metric_cls: Any, channel: str | None) -> dict[str, str]:
    """The constructor option that asks `metric_cls` for `channel` ({} when none asked or not offered)."""
    if channel is None or not takes_channel(metric_cls):
        return {}
    return {"channel": check_channel(channel) or ""}


@dataclass(frozen=True)
class ChannelReading:
    """The reading a metric makes of a generated file: its official one, or the one asked for."""

    official: str
    chosen: str

    @classmethod
    def of(cls, metric: str, official: str, channel: str | None) -> ChannelReading:
        if official not in READINGS:
            raise ValueError(f"{metric}: official channel must be one of {READINGS}, got {official!r}")
        return cls(official, check_channel(channel) or official)

    @property
    def variant(self) -> str:
        """The protocol-id suffix: none for the official reading."""
        return "" if self.chosen == self.official else f"+channel-{self.chosen}"

    def select(self, audio: Audio) -> np.ndarray:
        """The 1-D signal this reading takes from `audio` ([channels, T]).

        `left` and `right` keep the decoder's dtype (float64 from soundfile, as the official WER
        resampler sees it); `mean` is the float32 mean, as torchaudio, librosa and funasr compute it.
        """
        if self.chosen == "mean":
            return audio.channel_mean()
        index = 0 if self.chosen == "left" else 1
        if audio.samples.shape[0] <= index:
            raise MissingChannelError(
                f"{audio.path}: {audio.samples.shape[0]} channel(s), no {self.chosen} channel; "
                "--channel right needs stereo output (use left or mean for a mono file)"
            )
        return audio.samples[index]
