# ruff: noqa: E402  (a reference script: imports follow the sys.path set-up for MOVA's code)
"""Reference vectors for clap_mova (clap/mova-laion-630k-fusion-v1) from MOVA's own code at full size.

Runs OpenMOSS/MOVA evaluation/metrics/audio_is_clap/eval_audio_is_clap.py (commit 595a976) in a venv
of its requirements_audio.txt (numpy 2.4.6, torch 2.14.1 CPU, transformers 5.25.0, librosa 0.11.0,
pyloudnorm 0.2.0) with its vendored laion_clap (`pip install -e evaluation/models/clap --no-deps`):
the CLAP part of `setup_models()` line by line (CLAP_Module(enable_fusion=True), RobertaTokenizer and
RobertaModel from `evaluation/models/roberta-base`, the text branch replaced, the checkpoint loaded with
its `load_state_dict` and strict=False), then `precompute_text_embeddings`,
`extract_audio_from_video_memory(path, 32000)` and `clap_single_score` per clip, unchanged.

Not the release: `evaluation/models/roberta-base` is a full-size roberta-base config (12 layers,
vocab 50265, eps 1e-5) with a byte-level vocabulary without merges (no hub access here), and the
checkpoint holds the model's own key names (as {"state_dict": {"module." + key: tensor}}, the release's
layout) with every float tensor a function of its name and shape (numpy PCG64 seeded by crc32(name));
masks, index buffers and HTSAT's unused STFT front end keep the module's own values. The three chunk
starts of the clip longer than 480 000 samples come from np.random seeded 0 and are recorded.
Usage: python make_clap_mova.py MOVA_EVALUATION_DIR MEDIA_DIR OUT_JSON
"""

import hashlib
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

mova, media, out_json = (Path(a) for a in sys.argv[1:4])
roberta_dir = mova / "models" / "roberta-base"
roberta_dir.mkdir(parents=True, exist_ok=True)
from transformers import RobertaConfig, RobertaModel
from transformers.convert_slow_tokenizer import bytes_to_unicode

vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
for ch in bytes_to_unicode().values():
    vocab[ch] = len(vocab)
vocab["<mask>"] = len(vocab)
(roberta_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
(roberta_dir / "merges.txt").write_text("#version: 0.2\n")
config = RobertaConfig(  # FacebookAI/roberta-base config.json
    vocab_size=50265,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=514,
    type_vocab_size=1,
    layer_norm_eps=1e-5,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
torch.manual_seed(0)
RobertaModel(config).save_pretrained(roberta_dir)

sys.path.insert(0, str(mova / "metrics" / "audio_is_clap"))
import eval_audio_is_clap as E
import laion_clap
from clap_module.factory import load_state_dict
from transformers import RobertaTokenizer

KEEP = (
    "attn_mask",
    "relative_position_index",
    "position_ids",
    "token_type_ids",
    "num_batches_tracked",
    "spectrogram_extractor",
    "logmel_extractor",
)


def official_value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Also in tests/metrics/test_clap_mova.py: the test rebuilds the same tensors from the names."""
    rng = np.random.default_rng([1234, zlib.crc32(name.encode())])
    if name.endswith("running_var"):
        return np.abs(rng.standard_normal(shape)) + 0.5
    base = rng.standard_normal(shape) * 0.1
    return base + 1.0 if name.endswith(".weight") and len(shape) == 1 else base


# setup_models(), CLAP part, with device cpu
clap_model = laion_clap.CLAP_Module(enable_fusion=True, device="cpu")
tokenizer = RobertaTokenizer.from_pretrained(str(roberta_dir), local_files_only=True)
text_encoder = RobertaModel.from_pretrained(str(roberta_dir), local_files_only=True)
clap_model.tokenize = tokenizer
clap_model.model.text_branch = text_encoder
release = {}
shapes = {}
for name, tensor in clap_model.model.state_dict().items():
    shapes[name] = list(tensor.shape)
    if any(k in name for k in KEEP) or not tensor.is_floating_point():
        release["module." + name] = tensor.clone()
    else:
        release["module." + name] = torch.from_numpy(
            np.asarray(official_value(name, tuple(tensor.shape)), dtype=np.float32)
        )
ckpt = out_json.parent / "ckpt_tmp.pt"
torch.save({"state_dict": release, "epoch": 0}, ckpt)
pkg = load_state_dict(str(ckpt))
pkg.pop("text_branch.embeddings.position_ids", None)
result_load = clap_model.model.load_state_dict(pkg, strict=False)
clap_model.eval()
ckpt.unlink()

# The chunk starts np.random.choice draws for a clip longer than the window, recorded.
np.random.seed(0)
drawn = []
_choice = np.random.choice


def recording_choice(a, *args, **kwargs):
    value = _choice(a, *args, **kwargs)
    drawn.append(int(value))
    return value


np.random.choice = recording_choice
audio_embs = []
_embed = clap_model.get_audio_embedding_from_data


def recording_embed(*args, **kwargs):
    out = _embed(*args, **kwargs)
    audio_embs.append(out.detach().cpu().numpy()[0])
    return out


clap_model.get_audio_embedding_from_data = recording_embed

PROMPTS = {
    "tone_44k_3s.wav": "A clear bell tone rings in a quiet room.",
    "bursts_22k_7s_stereo.wav": "In a bright classroom, a smiling woman stands before a teal chalkboard and "
    "writes while the chalk scratches loudly against the board, students murmuring behind her.",
    "silence_48k_4s.wav": "Silence.",
    "chirp_16k_0p5s.wav": "A bird chirps once.",
    "mix_44k_16p2s_stereo.wav": "Rain falls on a tin roof, then a low engine hums and a whistle blows.",
}
text_embs = E.precompute_text_embeddings(clap_model, sorted(set(PROMPTS.values())))
clips = {}
for name in sorted(PROMPTS):
    audio = E.extract_audio_from_video_memory(str(media / name), target_sr=E.sr)
    before = len(drawn)
    score = E.clap_single_score(clap_model, text_embs[PROMPTS[name]], audio, E.sr)
    clips[name] = {
        "prompt": PROMPTS[name],
        "samples_32k": int(audio.shape[0]),
        "cosine": score,
        "audio_embedding": [float(f"{v:.9g}") for v in audio_embs[-1]],
        "chunk_starts": drawn[before:] or None,
    }
    print(name, audio.shape, score, drawn[before:], flush=True)

result = {
    "official": "OpenMOSS/MOVA evaluation/metrics/audio_is_clap/eval_audio_is_clap.py + models/clap @ 595a976",
    "versions": {
        "numpy": np.__version__,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    },
    "weights_rule": "official_value() in this script; kept: " + ", ".join(KEEP),
    "load_state_dict_missing": sorted(result_load.missing_keys),
    "load_state_dict_unexpected": sorted(result_load.unexpected_keys),
    "shapes": shapes,
    "media_sha256": {n: hashlib.sha256((media / n).read_bytes()).hexdigest() for n in sorted(PROMPTS)},
    "text_embeddings": {p: [float(f"{v:.9g}") for v in e.cpu().numpy()] for p, e in text_embs.items()},
    "clips": clips,
}
out_json.write_text(json.dumps(result) + "\n")
