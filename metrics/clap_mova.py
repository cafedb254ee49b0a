"""MOVA's CLAP score: the text–audio cosine of `eval_audio_is_clap.py` (`clap/mova-laion-630k-fusion-v1`).

The network is the LAION-CLAP 630k-audioset-fusion model the Verse-Bench CLAP uses (`metrics.clap`:
HTSAT-tiny fusion + RoBERTa, the same checkpoint and key mapping); what MOVA does differently is its
input and its text:
1. audio: `mova_audio_input.decode_mova_32k` (ffmpeg to 32 kHz stereo s16le, channel mean), the same
   samples its IS reads; they go to CLAP as they are, with no resampling to CLAP's 48 kHz
   (`clap_single_score` receives the 32 kHz array and `get_audio_embedding_from_data` assumes 48 kHz),
   so a clip is heard 1.5× faster and fills the 480 000-sample window only beyond 15 s;
2. pyloudnorm peak normalisation to −1 dBFS and the int16 round trip under numpy ≥ 2 (float64);
3. `get_audio_features` fusion/repeatpad (`clap_audio.fusion_input`);
4. text: the item's `prompt` from MOVA's prompt meta JSON (Verse-Bench: the item's own `prompt`
   field, `meta["official_prompt"]`), RoBERTa tokens padded/truncated to 77;
5. cosine of the two L2-normalised embeddings; per set the mean over clips with a prompt, `all` =
   mean of the per-set means.
Option `rate="48k"` resamples the 32 kHz samples to 48 kHz first (soxr HQ, as librosa would): not
MOVA's protocol (suffix `+resample48k`), for users who want CLAP fed at its own rate. Protocol page:
docs/protocols/clap_mova.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nava_eval.metrics.base import BaseMetric, MetricField, ScoreInput, ScoreOutcome
from nava_eval.metrics.speech_audio import AudioLoadError, NoAudioStreamError

log = logging.getLogger(__name__)

PROTOCOL = "clap/mova-laion-630k-fusion-v1"
PROMPT_KEY = "official_prompt"  # the item's own prompt (Verse-Bench item JSON `prompt`)
RATES = ("as-mova", "48k")
COSINE_EPS = 1e-8  # torch.nn.functional.cosine_similarity(..., eps=1e-8)


class MovaClapScore(BaseMetric):
    """MOVA's CLAP score: LAION-CLAP fusion cosine between a clip (32 kHz samples fed as is) and its prompt."""

    name = "clap_mova"
    protocol = PROTOCOL
    fields = (
        MetricField(
            "cs_mova",
            "higher",
            "cosine",
            "MOVA's CLAP cosine between the clip (its 32 kHz samples fed to CLAP unresampled) and the "
            "item's prompt; mean of per-set means",
            quantity="cs",
        ),
    )
    requires = frozenset({"audio"})
    weight_names = ("clap-630k-audioset-fusion", "roberta-base")
    description = (
        "MOVA's CLAP score: LAION-CLAP 630k-audioset-fusion cosine between the ffmpeg 32 kHz audio "
        "(fed unresampled, as MOVA) and the item's prompt"
    )
    default_batch_size = 8
    reload_on_new_device = False

    def __init__(
        self,
        *,
        smoke: bool = False,
        weights: Mapping[str, Any] | None = None,
        benchmark: str | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        rate: str = "as-mova",
        **options: Any,
    ) -> None:
        self.reject_options(options, "batch_size, seed, rate")
        if rate not in RATES:
            raise ValueError(f"clap_mova: rate must be one of {', '.join(RATES)}, not {rate!r}")
        self.rate = rate
        super().__init__(smoke=smoke, weights=weights, benchmark=benchmark, batch_size=batch_size, seed=seed)
        if rate == "48k":
            self.protocol = self.protocol_id(variant="+resample48k")
        self.embedder: Any = None

    def _loaded(self) -> bool:
        return self.embedder is not None

    def _load(self, device: str) -> None:
        from nava_eval.metrics import clap as C

        if self.smoke:
            self.weights_provenance = {"clap": {"source": f"random seed {self.seed}"}}
            self.embedder = C.tiny_clap(self.seed, device)
            return
        from transformers import RobertaTokenizer

        from nava_eval.metrics.weights_audio import CLAP, ROBERTA

        checkpoint = self.resolve_weight(CLAP)
        tokenizer_source = self.hub_source(ROBERTA)
        model = C.load_clap_model(C.read_checkpoint(checkpoint), C.official_clap_config(), device)
        self.embedder = C.ClapEmbedder(model, RobertaTokenizer.from_pretrained(tokenizer_source), device)

    def prepare(self, path: Path, key: str) -> Any:
        """The CLAP input of one clip (raises AudioLoadError subclasses)."""
        from nava_eval.metrics.clap_audio import clip_seed, fusion_input, resample_soxr_hq
        from nava_eval.metrics.mova_audio_input import (
            MOVA_SAMPLE_RATE,
            decode_mova_32k,
            peak_normalize_int16_numpy2,
        )

        wave = decode_mova_32k(path)
        if self.rate == "48k":
            wave = resample_soxr_hq(wave, MOVA_SAMPLE_RATE)
        return fusion_input(peak_normalize_int16_numpy2(wave), clip_seed(self.seed, key))

    def score_batch(self, items: Sequence[ScoreInput]) -> list[ScoreOutcome]:
        self.setup(self.device)
        outcomes: list[ScoreOutcome | None] = [None] * len(items)
        ready: list[tuple[int, Any]] = []
        prompts: dict[int, str] = {}
        for i, item in enumerate(items):
            prompt = item.meta.get(PROMPT_KEY)
            if not isinstance(prompt, str) or not prompt.strip():
                outcomes[i] = ScoreOutcome.skipped(
                    f"{item.id}: no prompt (MOVA scores CLAP only for clips whose name matches a prompt)"
                )
                continue
            try:
                # Long-clip chunks are drawn from the item id: the same for every seed of the item.
                ready.append((i, self.prepare(Path(item.output), f"mova:{item.id}")))
                prompts[i] = prompt
            except NoAudioStreamError as exc:
                outcomes[i] = ScoreOutcome.skipped(f"{exc} (MOVA skips a clip whose audio it cannot extract)")
            except (AudioLoadError, ValueError) as exc:
                outcomes[i] = ScoreOutcome.failed(str(exc))
        texts = sorted(set(prompts.values()))
        text_emb = dict(zip(texts, self.embedder.embed_text(texts), strict=True)) if texts else {}
        size = self.batch_size or 1
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            try:
                embs: list[Any] = list(self.embedder.embed_audio([x for _, x in chunk]))
            except Exception as exc:  # isolate a bad clip
                log.warning("clap_mova: batch failed (%s); one clip at a time", exc)
                embs = []
                for i, x in chunk:
                    try:
                        embs.append(self.embedder.embed_audio([x])[0])
                    except Exception as one_exc:
                        embs.append(RuntimeError(f"{items[i].output}: {type(one_exc).__name__}: {one_exc}"))
            for (i, x), emb in zip(chunk, embs, strict=True):
                if isinstance(emb, Exception):
                    outcomes[i] = ScoreOutcome.failed(str(emb))
                    continue
                t = text_emb[prompts[i]]
                cos = float(np.dot(emb, t) / max(float(np.linalg.norm(emb) * np.linalg.norm(t)), COSINE_EPS))
                outcomes[i] = ScoreOutcome.ok(cs_mova=cos, prompt=prompts[i], longer=bool(x.longer))
        return [o if o is not None else ScoreOutcome.failed("internal: not scored") for o in outcomes]
