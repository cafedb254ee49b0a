"""Build every component a model needs: the DiT, text encoder, video VAE, audio decoder, speaker embedder.

`nava-tiny` (what the smoke run preset builds): all tiny and seeded, nothing downloaded, a 1-second T2AV clip in seconds
on CPU; its outputs are noise-like and mean nothing. `nava-6b`: the release, from a weights folder laid
out like the Hugging Face repo `ernie-research/NAVA` (or that repo in the local HF cache), plus
ReDimNet from the torch hub cache. A missing file is named, with the command that fetches it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from nava_eval.errors import InvalidValue, MissingFile
from nava_eval.nava.audio_vae import LATENT_CHANNELS, LATENT_MEL_BINS, LtxAudioDecoder, load_ltx_audio_decoder
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling import NavaModel
from nava_eval.nava.release_layout import (  # the release's file names, torch-free for the dry run
    AUDIO_VAE_FILE,
    DIT_FILE,
    DIT_FP8_FILE,
    FETCH_COMMAND,
    NAVA_REPO_ID,
    T5_FILE,
    TOKENIZER_FILES,
    VIDEO_VAE_FILE,
)
from nava_eval.nava.speaker import ReDimNetEmbedder, SpeakerEmbedder, TinySpeakerEmbedder
from nava_eval.nava.text import (
    UMT5_XXL_CONFIG,
    SmokeTokenizer,
    TextEncoder,
    build_umt5_encoder,
    load_umt5_encoder,
    load_umt5_tokenizer,
)
from nava_eval.nava.video_vae import WAN22_VAE_CONFIG, WanVideoVAE, build_wan22_autoencoder, load_wan22_vae

logger = logging.getLogger(__name__)

MODELS = ("nava-tiny", "nava-6b")


@dataclass(frozen=True)
class Components:
    """Everything `NavaPipeline` runs; `smoke` marks random tiny weights (scores meaningless)."""

    model_name: str  # nava-6b or nava-tiny (an architecture, not a run preset)
    config: NavaConfig
    model: NavaModel
    text_encoder: TextEncoder
    video_vae: WanVideoVAE
    audio_decoder: LtxAudioDecoder
    speaker: SpeakerEmbedder
    device: torch.device
    smoke: bool


def _place(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    # diffusers warns on every .to(dtype); only cast when the dtype actually changes.
    module = module.to(device)
    if next(module.parameters()).dtype != dtype:
        module = module.to(dtype)
    return module


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    # Initialise tiny modules from a fixed seed without disturbing the caller's RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_components(
    model_name: str,
    weights_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    t5_offload: bool = False,
    weight_dtype: str = "auto",
    dit_file: str | None = None,
) -> Components:
    """Components for the model `model_name` ("nava-tiny" or "nava-6b") on `device`.

    dtype: storage dtype of the VAEs and the text encoder (the DiT follows `weight_dtype`:
    "auto" | "fp32" | "bf16" | "fp8_e4m3fn", see nava.checkpoint.load_model).
    """
    device = torch.device(device)
    if model_name == "nava-tiny":
        return _tiny_components(device, dtype)
    if model_name == "nava-6b":
        return _release_components(weights_dir, device, dtype, t5_offload, weight_dtype, dit_file)
    raise InvalidValue(f"unknown model {model_name!r}; valid: {', '.join(MODELS)}")


# ----------------------------------------------------------------------------------------------------
# nava-tiny

TINY_VIDEO_VAE = dict(WAN22_VAE_CONFIG, base_dim=8, decoder_base_dim=8, num_res_blocks=1)
TINY_AUDIO_VAE = {
    "base_channels": 16,
    "ch_mult": (1, 2, 4),
    "num_res_blocks": 1,
    "latent_channels": 8,
    "mel_bins": 64,
}
# Upsampling 5·4·2·2·2 = 160 = the mel hop, so the tiny vocoder emits 16 kHz directly; kernel − stride is
# even at every stage so each mel frame yields exactly 160 samples.
TINY_VOCODER = {
    "in_channels": 128,
    "hidden_channels": 32,
    "out_channels": 2,
    "upsample_kernel_sizes": [11, 8, 4, 4, 4],
    "upsample_factors": [5, 4, 2, 2, 2],
    "resnet_kernel_sizes": [3],
    "resnet_dilations": [[1]],
    "output_sampling_rate": 16000,
}


def _tiny_components(device: torch.device, dtype: torch.dtype) -> Components:
    from diffusers.models.autoencoders.autoencoder_kl_ltx2_audio import AutoencoderKLLTX2Audio
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    # The release's 512-row context, so prompts are cut where the release cuts them (here per character).
    config = NavaConfig.for_model("nava-tiny", text_len=512)
    with _seeded(0):
        model = NavaModel(config)
    text_config = dict(
        UMT5_XXL_CONFIG,
        vocab_size=SmokeTokenizer.vocab_size,
        d_model=config.text_dim,
        d_kv=16,
        num_heads=4,
        d_ff=2 * config.text_dim,
        num_layers=2,
    )
    with _seeded(1):
        t5 = build_umt5_encoder(text_config, "cpu")
    with _seeded(2):
        video = build_wan22_autoencoder(TINY_VIDEO_VAE)
    with _seeded(3):
        audio_vae = AutoencoderKLLTX2Audio(**TINY_AUDIO_VAE)
        vocoder = LTX2Vocoder(**TINY_VOCODER)
        stats = torch.randn(2, LATENT_CHANNELS * LATENT_MEL_BINS)
    audio = LtxAudioDecoder(
        _place(audio_vae, device, dtype),
        _place(vocoder, device, dtype),
        latents_mean=0.1 * stats[0],
        latents_std=1.0 + 0.1 * stats[1].abs(),
        vocoder_sample_rate=16000,
    )
    return Components(
        model_name="nava-tiny",
        config=config,
        model=model.to(device).eval(),
        # Smoke only: the byte-level tokenizer needs no download; context length = the tiny text_len.
        text_encoder=TextEncoder(
            _place(t5, torch.device("cpu"), dtype),
            SmokeTokenizer(),
            max_length=config.text_len,
            device=device,
        ),
        video_vae=WanVideoVAE(_place(video, device, dtype)),
        audio_decoder=audio,
        speaker=TinySpeakerEmbedder(seed=4),
        device=device,
        smoke=True,
    )


# ----------------------------------------------------------------------------------------------------
# nava-6b


def resolve_weights_dir(weights_dir: str | Path | None) -> Path:
    """The given folder, or the `ernie-research/NAVA` snapshot in the local HF cache (never downloads)."""
    if weights_dir is not None:
        path = Path(weights_dir)
        if not path.is_dir():
            raise MissingFile(f"weights folder {path} does not exist; run `{FETCH_COMMAND} --dir {path}`")
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(NAVA_REPO_ID, local_files_only=True))
    except LocalEntryNotFoundError as err:
        raise MissingFile(
            f"{NAVA_REPO_ID} is not in the Hugging Face cache and no weights folder was given; "
            f"run `{FETCH_COMMAND}` or pass a folder laid out like the repository"
        ) from err


def release_files(root: Path, weight_dtype: str = "auto", dit_file: str | None = None) -> dict[str, Path]:
    """Every file the released model reads; FileNotFoundError names all that are missing.

    dit_file: the DiT checkpoint's name in the folder (default: by weight_dtype, as the release names them).
    """
    dit = DIT_FP8_FILE if weight_dtype == "fp8_e4m3fn" else DIT_FILE
    if weight_dtype == "auto" and not (root / DIT_FILE).is_file() and (root / DIT_FP8_FILE).is_file():
        dit = DIT_FP8_FILE
    if dit_file is not None:
        dit = dit_file
    wanted = {
        "dit": dit,
        "video_vae": VIDEO_VAE_FILE,
        "t5": T5_FILE,
        "tokenizer": TOKENIZER_FILES[0],
        "tokenizer_json": TOKENIZER_FILES[1],
        "audio_vae": AUDIO_VAE_FILE,
    }
    files = {name: root / rel for name, rel in wanted.items()}
    missing = [wanted[name] for name, path in files.items() if not path.is_file()]
    if missing:
        raise MissingFile(
            f"missing in {root}: {', '.join(missing)}; run `{FETCH_COMMAND}` (repo {NAVA_REPO_ID})"
        )
    return files


def _release_components(
    weights_dir: str | Path | None,
    device: torch.device,
    dtype: torch.dtype,
    t5_offload: bool,
    weight_dtype: str,
    dit_file: str | None = None,
) -> Components:
    from nava_eval.nava.checkpoint import load_model

    root = resolve_weights_dir(weights_dir)
    files = release_files(root, weight_dtype, dit_file)
    speaker = ReDimNetEmbedder(device=device)  # fails early, naming the fetch command, when not cached
    config = NavaConfig.for_model("nava-6b")
    model = load_model(files["dit"], config, device=device, weight_dtype=weight_dtype)
    t5 = load_umt5_encoder(
        files["t5"], UMT5_XXL_CONFIG, dtype=torch.bfloat16 if device.type == "cuda" else dtype
    )
    text = TextEncoder(
        t5,
        load_umt5_tokenizer(files["tokenizer"].parent),
        max_length=config.text_len,
        device=device,
        offload=t5_offload,
    )
    video = WanVideoVAE(_place(load_wan22_vae(files["video_vae"]), device, dtype))
    audio = load_ltx_audio_decoder(files["audio_vae"], dtype=dtype)
    audio.vae.to(device)
    audio.vocoder.to(device)
    return Components(
        model_name="nava-6b",
        config=config,
        model=model,
        text_encoder=text,
        video_vae=video,
        audio_decoder=audio,
        speaker=speaker,
        device=device,
        smoke=False,
    )
