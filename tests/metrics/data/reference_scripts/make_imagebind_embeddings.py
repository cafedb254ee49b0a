"""The tiny ImageBind embeddings of tests/metrics/reference/imagebind_reference.json, from the official model.

The network is OpenMOSS/MOVA's `evaluation/models/imagebind` (snapshot 595a976) `ImageBindModel`,
built with the reference's `tiny_config`, every weight from tests/seeded_weights.py (seed
WEIGHT_SEED, keyed by name), so the test rebuilds the same weights at run time. Two steps:

    # 1. the inputs of each case (system python with nava-eval installed): the clips and mels the
    #    official transforms give, as reproduced by nava-eval (the test checks them against the
    #    official transforms' stored summaries: resampled head and sum, mel sub-grid and sum, a crop patch)
    python make_imagebind_embeddings.py inputs /tmp/ib_inputs.pt
    # 2. the official model on them (a venv with torch 2.14.1, timm, einops, ftfy, regex, iopath;
    #    the package's __init__, which imports the unused data module, is not run)
    venv/bin/python make_imagebind_embeddings.py embed MOVA/evaluation/models/imagebind /tmp/ib_inputs.pt

Step 2 rewrites `vision_embedding`, `audio_embedding` and `ib` of each case and records the weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]
REFERENCE = ROOT / "tests" / "metrics" / "reference" / "imagebind_reference.json"
WEIGHT_SEED = 0


def inputs(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from nava_eval.metrics import imagebind_data as ibd
    from tests.metrics.test_ib import _audio, _frames

    reference = json.loads(REFERENCE.read_text())
    cases = []
    for case in reference["cases"]:
        a = case["audio"]
        raw = _audio(case["seed"], a["channels"], a["rate"], a["seconds"])
        cases.append(
            {
                "mels": ibd.audio_mels(ibd.DecodedAudio(raw, a["rate"])),
                "clips": ibd.vision_clips(_frames(case["seed"], *case["frames_shape"][:3])),
            }
        )
    torch.save(cases, out)


def embed(imagebind_dir: Path, inputs_path: Path) -> None:
    import types

    sys.path.insert(0, str(ROOT / "tests"))
    # The package's __init__ imports imagebind.data (torchvision, pytorchvideo, pkg_resources), which
    # the model does not use: register the package without running it, then import the model module.
    package = types.ModuleType("imagebind")
    package.__path__ = [str(imagebind_dir / "imagebind")]
    sys.modules["imagebind"] = package
    from imagebind.models.imagebind_model import ImageBindModel
    from seeded_weights import seeded_state

    reference = json.loads(REFERENCE.read_text())
    model = ImageBindModel(**reference["tiny_config"]).eval()
    keys = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    model.load_state_dict(seeded_state(keys, WEIGHT_SEED), strict=True)
    cases = torch.load(inputs_path, weights_only=True)
    for case, given in zip(reference["cases"], cases, strict=True):
        with torch.no_grad():
            out = model({"vision": given["clips"][None], "audio": given["mels"][None]})
        v, a = out["vision"][0], out["audio"][0]
        case["vision_embedding"] = v.tolist()
        case["audio_embedding"] = a.tolist()
        case["ib"] = float(torch.cosine_similarity(v[None], a[None], dim=-1)[0])
    reference["weights"] = {
        "source": "tests/seeded_weights.py seeded_state(every key of the tiny ImageBindModel, seed)",
        "seed": WEIGHT_SEED,
        "made_by": "tests/metrics/data/reference_scripts/make_imagebind_embeddings.py",
    }
    REFERENCE.write_text(json.dumps(reference))  # one line, as the file was first written


if __name__ == "__main__":
    if sys.argv[1] == "inputs":
        inputs(Path(sys.argv[2]))
    else:
        embed(Path(sys.argv[2]), Path(sys.argv[3]))
