# ruff: noqa: E402  (a reference script: imports follow the sys.path/env set-up for the toolkit)
"""Reference vectors for clap under the Verse-Bench toolkit's own pins (issue 22's three deviations).

make_clap.py ran the toolkit's ClapInferencer under numpy 2, at sample rates with exact ratios to
48 kHz and with transformers' default LayerNorm eps in the tiny RoBERTa. This script runs the same
tiny network (same value_for weights) under the toolkit's requirements.txt pins (numpy 1.26.4,
librosa 0.11.0, transformers 4.56.x, scipy 1.15.x; torch 2.14.1 and torchaudio 2.11.1, the builds
installable here) with:
* a tiny RoBERTa saved with layer_norm_eps 1e-5, the value of roberta-base's config.json, which the
  toolkit's RobertaModel.from_pretrained(f"{MODELS_PATH}/roberta-base") reads;
* clips at 44.1, 22.05 and 11.025 kHz (tests/reference_audio.py CLAP_PIN_FILES) whose librosa length
  ceil(n * (48000/sr)) is one sample longer than the exact one, at 1, 2.5 and 5 s (one repeat fewer
  before the padding), one of them stereo;
and records, per clip, the length librosa.load returns, the sha256 of the int16 samples after
pyloudnorm's peak normalisation and the toolkit's int16 round trip, the audio embedding and CS, plus
infer_fd for two pairs (finite under numpy 1.26).

    venv/bin/python make_clap_pins.py VERSE_BENCH_CHECKOUT OUT_DIR
"""

import json
import os
import sys
import zlib
from pathlib import Path

import numpy as np
import torch

out = Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
models = out / "models"
(models / "roberta-base").mkdir(parents=True, exist_ok=True)
os.environ["MODELS_PATH"] = str(models)
sys.path.insert(0, sys.argv[1])
from transformers import RobertaConfig, RobertaModel
from transformers.convert_slow_tokenizer import bytes_to_unicode

vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
for ch in bytes_to_unicode().values():
    vocab[ch] = len(vocab)
vocab["<mask>"] = len(vocab)
(models / "roberta-base" / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
(models / "roberta-base" / "merges.txt").write_text("#version: 0.2\n")
rcfg = RobertaConfig(
    vocab_size=len(vocab),
    hidden_size=768,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=80,
    type_vocab_size=1,
    layer_norm_eps=1e-5,  # roberta-base's config.json
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
RobertaModel(rcfg).save_pretrained(models / "roberta-base")
# data.py builds BERT and BART tokenizers at import time (unused here): minimal local folders.
(models / "bart-base").mkdir(exist_ok=True)
for f in ("vocab.json", "merges.txt"):
    (models / "bart-base" / f).write_text((models / "roberta-base" / f).read_text())
(models / "bert-base-uncased").mkdir(exist_ok=True)
(models / "bert-base-uncased" / "vocab.txt").write_text(
    "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]) + "\n"
)
import fd.clap_module.htsat as ht
import fd.clap_module.model as cm


def tiny_htsat(audio_cfg, enable_fusion=False, fusion_type="None"):
    return ht.HTSAT_Swin_Transformer(
        spec_size=256,
        patch_size=4,
        patch_stride=(4, 4),
        num_classes=audio_cfg.class_num,
        embed_dim=8,
        depths=[1, 1, 2, 1],
        num_heads=[1, 2, 2, 4],
        window_size=8,
        config=audio_cfg,
        enable_fusion=enable_fusion,
        fusion_type=fusion_type,
    )


cm.create_htsat_model = tiny_htsat
import fd.clap_module.factory as factory

factory._MODEL_CONFIGS["HTSAT-tiny"]["embed_dim"] = 64  # the tiny HTSAT's output width (8 * 2**3)
import fd.clap_inferencer as ci

_Orig = ci.CLAP_Module
ci.CLAP_Module = lambda enable_fusion, device: _Orig(enable_fusion=enable_fusion, device="cpu")


def value_for(name, shape):
    rng = np.random.default_rng([1234, zlib.crc32(name.encode())])
    if name.endswith("running_var"):
        return np.abs(rng.standard_normal(shape)) + 0.5
    base = rng.standard_normal(shape) * 0.1
    if name.endswith(".weight") and len(shape) == 1:
        base = base + 1.0  # norm scales near 1
    return base


model = _Orig(enable_fusion=True, device="cpu")
# Learnable parameters and batch-norm statistics are drawn; structural buffers (attention masks,
# relative position indices, the STFT/mel kernels) stay as the official code builds them.
drawn = {n for n, _ in model.model.named_parameters()} | {
    n for n in model.model.state_dict() if n.endswith(("running_mean", "running_var"))
}
state = {}
for k, v in model.model.state_dict().items():
    state[k] = torch.from_numpy(np.asarray(value_for(k, tuple(v.shape)))).to(v.dtype) if k in drawn else v
torch.save(
    {"state_dict": {"module." + k: v for k, v in state.items()}}, models / "630k-audioset-fusion-best.pt"
)
inf = ci.ClapInferencer(str(models))
import hashlib
import importlib.util

import librosa
import pyloudnorm as pyln

here = Path(__file__).resolve()
spec = importlib.util.spec_from_file_location("reference_audio", here.parents[3] / "reference_audio.py")
reference_audio = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_audio)
wavs = reference_audio.write_clap_pin_wavs(out / "wavs")
res = {}
texts = ["a dog barking", "light traffic noise", "upbeat pop music, cheering"]
for name in reference_audio.CLAP_PIN_FILES:
    path = str(wavs / name)
    audio, _ = librosa.load(path, sr=48000, mono=True)  # get_audio_emb's own steps, to record them
    normed = pyln.normalize.peak(audio, -1.0)
    pcm = ci.float32_to_int16(normed.reshape(1, -1))
    res[name] = {
        "wav_sha256": hashlib.sha256((wavs / name).read_bytes()).hexdigest(),
        "librosa_length": int(audio.shape[-1]),
        "normalised_dtype": str(normed.dtype),
        "int16_sha256": hashlib.sha256(pcm.tobytes()).hexdigest(),
        "embedding": inf.get_audio_emb(path).numpy()[0].tolist(),
        "cs": {t: inf.infer(path, t) for t in texts},
    }
with torch.no_grad():
    temb = inf.model.get_text_embedding(texts, use_tensor=True).numpy()
names = list(reference_audio.CLAP_PIN_FILES)
pairs = [(names[0], names[2]), (names[1], names[3])]
fd_values = {f"{a}|{b}": float(inf.infer_fd(str(wavs / a), str(wavs / b))) for a, b in pairs}
manifest = {k: list(v.shape) for k, v in state.items() if k in drawn}
import transformers

json.dump(
    {
        "source": "Dorniwang/Verse-Bench fd/clap_inferencer.py ClapInferencer (commit 5645a09) under its "
        "requirements.txt pins; tiny HTSAT and RoBERTa as make_clap.py, RoBERTa layer_norm_eps 1e-5 "
        "(see reference_scripts/make_clap_pins.py)",
        "versions": {
            "numpy": np.__version__,
            "librosa": librosa.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "pyloudnorm": getattr(pyln, "__version__", "?"),
        },
        "roberta_config": rcfg.to_diff_dict(),
        "vocab": vocab,
        "files": res,
        "texts": texts,
        "text_embeddings": temb.tolist(),
        "per_clip_fd": fd_values,
        "state_dict_shapes": manifest,
    },
    open(out / "expected_pins.json", "w"),
)
print({k: (v["librosa_length"], v["cs"]) for k, v in res.items()})
print(fd_values)
