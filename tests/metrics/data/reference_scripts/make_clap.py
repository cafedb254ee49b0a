# ruff: noqa: E402  (a reference script: imports follow the sys.path/env set-up for the toolkit)
"""Reference vectors for clap (cs/versebench-clap-v1, fd/versebench-clap-*) from the Verse-Bench toolkit.

Runs fd/clap_inferencer.py ClapInferencer (the toolkit's vendored LAION-CLAP, fusion HTSAT + RoBERTa)
unchanged except: device cpu instead of the hard-coded cuda, HTSAT built with tiny hyper-parameters
(create_htsat_model patched), RoBERTa from a tiny local `roberta-base` folder (hidden 768 as the
projection expects, 1 layer) with a byte-level tokenizer without merges. The weights are not stored:
every tensor is a deterministic function of its name and shape (numpy PCG64 seeded by crc32(name)),
so the test rebuilds the same state dict from the names and shapes listed in the output.
"""

import json
import os
import sys
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
models = out / "models"
(models / "roberta-base").mkdir(parents=True, exist_ok=True)
os.environ["MODELS_PATH"] = str(models)
sys.path.insert(0, os.environ.get("VERSE_BENCH", "/tmp/ref-verse"))  # a Verse-Bench checkout
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
rng = np.random.default_rng(5)


def sound(sr, secs, kind):
    t = np.arange(int(sr * secs)) / sr
    if kind == "tone":
        s = np.sin(2 * np.pi * 440 * t) * np.exp(-t) + 0.3 * np.sin(2 * np.pi * 1200 * t)
    else:
        s = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.5 * t) > 0.3)
    return 0.4 * s / np.abs(s).max()


files = {
    "tone_16k_3s.wav": (16000, 3.0, "tone", 1),
    "bursts_24k_2s_stereo.wav": (24000, 2.0, "noise", 2),
    "tone_8k_10s.wav": (8000, 10.0, "tone", 1),
}
res = {}
for name, (sr, secs, kind, ch) in files.items():
    s = sound(sr, secs, kind)
    data = np.stack([s * (1 - 0.4 * c) for c in range(ch)], 1) if ch > 1 else s
    sf.write(out / name, data, sr, subtype="PCM_16")
    emb = inf.get_audio_emb(str(out / name)).numpy()[0]
    res[name] = {"embedding": emb.tolist()}
texts = ["a dog barking", "light traffic noise", "upbeat pop music, cheering"]
for name in files:
    res[name]["cs"] = {t: inf.infer(str(out / name), t) for t in texts}
with torch.no_grad():
    temb = inf.model.get_text_embedding(texts, use_tensor=True).numpy()
fd_values = {}  # the per-clip infer_fd is probed separately (probe_perclip_fd.py): it does not return here
manifest = {k: list(v.shape) for k, v in state.items() if k in drawn}
import librosa as _librosa
import transformers as _transformers

_versions = {
    "numpy": np.__version__,
    "librosa": _librosa.__version__,
    "transformers": _transformers.__version__,
}
json.dump(
    {
        "versions": _versions,
        "source": "Dorniwang/Verse-Bench fd/clap_inferencer.py ClapInferencer (commit 5645a09), tiny HTSAT "
        "(embed 8, depths 1-1-2-1, heads 1-2-2-4), tiny RoBERTa (hidden 768, 1 layer, 4 heads, ffn 64, 80 positions, "
        "byte vocab), weights = value_for(name, shape) (see reference_scripts/make_clap.py)",
        "roberta_config": rcfg.to_diff_dict(),
        "vocab": vocab,
        "files": res,
        "texts": texts,
        "text_embeddings": temb.tolist(),
        "per_clip_fd": fd_values,
        "state_dict_shapes": manifest,
    },
    open(out / "expected.json", "w"),
)
print({k: v["cs"] for k, v in res.items()})
print(fd_values)
