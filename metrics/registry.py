"""The built-in metrics: one line each, name → "module:Class". Lazy: importing this imports no metric.

Everything else about a metric (protocol, fields, description, requirements, weight files) is
declared on its class (`metrics.base.BaseMetric`); `metrics.base.metric_entries()` reads it there.
"""

from __future__ import annotations

from nava_eval.lazy import Registry

METRICS = Registry(
    "metric",
    {
        "sync": "nava_eval.metrics.sync:SyncNetMetric",
        "video_quality": "nava_eval.metrics.video_quality:VerseBenchVideoQuality",
        "ib": "nava_eval.metrics.ib:ImageBindScore",
        "imaging_quality": "nava_eval.metrics.video_quality:ImagingQuality",
        "wer": "nava_eval.metrics.wer:WerMetric",
        "wer_sensevoice": "nava_eval.metrics.wer_sensevoice:SenseVoiceWer",
        "audiobox": "nava_eval.metrics.audiobox:AudioboxAesthetics",
        "clap": "nava_eval.metrics.clap:ClapScore",
        "kl": "nava_eval.metrics.kl:PasstKL",
        "sim": "nava_eval.metrics.speaker_similarity:SpeakerSimilarity",
        "sim_speakers": "nava_eval.metrics.sim_speakers:SpeakerSpanSimilarity",
        "dnsmos": "nava_eval.metrics.dnsmos:Dnsmos",
        "audio_amplitude": "nava_eval.metrics.audio_amplitude:AudioAmplitude",
        "av_align": "nava_eval.metrics.av_align:AVAlign",
        "id": "nava_eval.metrics.dino_id:DinoIdentity",
        "audio_is": "nava_eval.metrics.audio_is:AudioInceptionScore",
        "clap_mova": "nava_eval.metrics.clap_mova:MovaClapScore",
        "desync": "nava_eval.metrics.desync:DeSync",
        "av_a": "nava_eval.metrics.av_a:AVA",
        "videoreward": "nava_eval.metrics.videoreward:VideoReward",
    },
)
