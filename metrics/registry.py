"""The built-in metrics. Lazy: importing this module imports no metric implementation.

Every metric class is constructed as `Cls(*, smoke=False, weights=None, benchmark=None, **options)`:
`smoke` swaps in tiny seeded networks (scores meaningless, protocol id says so), `weights` maps a
weight name (see `metrics.weights`) to a user's own file, `benchmark` lets a metric pick the
benchmark's protocol variant (WER on VerseBench). The instance's `protocol` is authoritative; the
one here is the default shown by `nava-eval ls`.
"""

from __future__ import annotations

from nava_eval.metrics.base import MetricEntry, MetricField, register_metric

BUILTIN_METRICS: tuple[MetricEntry, ...] = (
    MetricEntry(
        name="sync",
        target="nava_eval.metrics.sync:SyncNetMetric",
        protocol="sync/syncnet-lse-pass-v2",
        fields=(
            MetricField(
                "sync_c",
                "higher",
                "",
                "SyncNet confidence (LSE-C): median − min of the offset curve, mean over tracks > 100 frames",
                protocol="sync/syncnet-lse-v1",
                quantity="sync_c",
            ),
            MetricField(
                "sync_d",
                "lower",
                "",
                "SyncNet distance (LSE-D): min of the offset curve, mean over tracks > 100 frames",
                protocol="sync/syncnet-lse-v1",
                quantity="sync_d",
            ),
            MetricField(
                "sync_c_mova",
                "higher",
                "",
                "MOVA's LSE-C: C of the track with the largest C − D (tracks > 20 frames)",
                protocol="sync/mova-lse-v1",
                quantity="sync_c",
            ),
            MetricField(
                "sync_d_mova",
                "lower",
                "",
                "MOVA's LSE-D: D of the track with the largest C − D (tracks > 20 frames)",
                protocol="sync/mova-lse-v1",
                quantity="sync_d",
            ),
        ),
        description="Lip sync with SyncNet: syncnet_python's mean over tracks and MOVA's best track, one pass",
    ),
    MetricEntry(
        name="video_quality",
        target="nava_eval.metrics.video_quality:VerseBenchVideoQuality",
        protocol="video-quality/versebench-as-v2",
        fields=(
            MetricField(
                "video_quality", "higher", "", "(Aesthetic v2.5/10 + MUSIQ-KonIQ/100 + MANIQA 20-crop mean)/3"
            ),
        ),
        description="Verse-Bench aesthetic video quality, per frame then per video",
    ),
    MetricEntry(
        name="ib",
        target="nava_eval.metrics.ib:ImageBindScore",
        protocol="ib/mova-imagebind-huge-v1",
        fields=(
            MetricField(
                "ib",
                "higher",
                "",
                "ImageBind-huge cosine of vision (0.5-fps frame pairs, 3 crops) and audio (3 × 2-s mel) embeddings",
            ),
        ),
        description="IB-Score: ImageBind-huge audio-visual alignment as MOVA's evaluation toolkit computes it",
    ),
    MetricEntry(
        name="imaging_quality",
        target="nava_eval.metrics.video_quality:ImagingQuality",
        protocol="imaging-quality/musiq-spaq-v1",
        fields=(MetricField("imaging_quality", "higher", "", "VBench imaging quality: MUSIQ-SPAQ/100"),),
        description="VBench-style imaging quality with MUSIQ-SPAQ",
    ),
    MetricEntry(
        name="wer",
        target="nava_eval.metrics.wer:WerMetric",
        protocol="wer/seedtts-v1",
        fields=(
            MetricField("wer", "lower", "%", "word error rate (CER for Chinese), mean of per-utterance ×100"),
        ),
        description="Whisper-large-v3 (en) / Paraformer-zh (zh) ASR, Seed-TTS-eval normalisation, jiwer",
    ),
    MetricEntry(
        name="sim",
        target="nava_eval.metrics.speaker_similarity:SpeakerSimilarity",
        protocol="sim/wavlm-large-ecapa-v1",
        fields=(
            MetricField("sim", "higher", "×100", "cosine of WavLM-large+ECAPA embeddings, output vs prompt"),
        ),
        description="Speaker similarity to the prompt speaker (Seed-TTS-eval verification model)",
    ),
)

for _entry in BUILTIN_METRICS:
    register_metric(_entry)
