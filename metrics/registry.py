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
        name="av_align",
        target="nava_eval.metrics.av_align:AVAlign",
        protocol="av-align/mova-onset-flow-v1",
        fields=(
            MetricField(
                "av_align",
                "higher",
                "IoU",
                "IoU of librosa audio onsets and Farneback optical-flow peaks (±1 frame), whole clip",
            ),
        ),
        description="AV-Align: audio-onset / optical-flow-peak IoU as MOVA's evaluation toolkit computes it",
    ),
    MetricEntry(
        name="id",
        target="nava_eval.metrics.dino_id:DinoIdentity",
        protocol="id/versebench-dinov3-vitl16-v1",
        fields=(
            MetricField(
                "id",
                "higher",
                "cosine",
                "DINOv3 ViT-L/16 cosine of each frame's second-to-last token with the conditioning image's, mean",
            ),
        ),
        description="Verse-Bench ID: DINOv3 ViT-L/16 similarity of every frame to the conditioning image",
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
        name="wer_sensevoice",
        target="nava_eval.metrics.wer_sensevoice:SenseVoiceWer",
        protocol="wer/versebench-sensevoice-v1",
        fields=(
            MetricField(
                "wer_sensevoice",
                "lower",
                "%",
                "Verse-Bench toolkit WER ×100: SenseVoiceSmall + fsmn-VAD, strip+lowercase, jiwer.wer per item",
                quantity="wer",
            ),
        ),
        description="Verse-Bench toolkit WER (NAVA's WER column): items with speech text in set1–3, "
        "plain mean; funasr (extra zh)",
    ),
    MetricEntry(
        name="audiobox",
        target="nava_eval.metrics.audiobox:AudioboxAesthetics",
        protocol="audiobox/versebench-aesthetics-v1",
        fields=(
            MetricField("pq", "higher", "1–10", "Audiobox Aesthetics production quality (NAVA's PQ column)"),
            MetricField("ce", "higher", "1–10", "Audiobox Aesthetics content enjoyment"),
            MetricField("cu", "higher", "1–10", "Audiobox Aesthetics content usefulness"),
            MetricField(
                "pc",
                "lower",
                "1–10",
                "Audiobox Aesthetics production complexity (the toolkit's overall score treats lower as better)",
            ),
        ),
        description="Audiobox Aesthetics as the Verse-Bench toolkit runs it (every wav of set1+set2; "
        "10 s windows, weighted mean)",
    ),
    MetricEntry(
        name="clap",
        target="nava_eval.metrics.clap:ClapScore",
        protocol="cs/versebench-clap-v1",
        fields=(
            MetricField(
                "fd",
                "lower",
                "",
                "the toolkit's per-clip CLAP FD to the ground-truth wav (‖g − r‖² + (σ_g − σ_r)²), mean over items",
                protocol="fd/versebench-clap-perclip-v1",
                quantity="fd",
            ),
            MetricField(
                "cs",
                "higher",
                "cosine",
                "CLAP cosine between the clip and its audio_prompt[0]",
                quantity="cs",
            ),
            MetricField(
                "fd_set",
                "lower",
                "",
                "Fréchet distance between the sets of generated and ground-truth CLAP embeddings (one per set)",
                protocol="fd/versebench-clap-set-v1",
                quantity="fd",
                kind="set",
                reducer="nava_eval.metrics.frechet:embedding_set_fd",
            ),
        ),
        description="LAION-CLAP 630k-audioset-fusion (Verse-Bench toolkit): CS with audio_prompt[0] on "
        "set1+set2; FD of set2 clips to their ground-truth wavs (per clip as the toolkit, and set-level)",
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
