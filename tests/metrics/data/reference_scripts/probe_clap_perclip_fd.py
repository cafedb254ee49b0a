"""The toolkit's per-clip FD on pairs of single 512-d CLAP embeddings, with the numpy/scipy it pins.

requirements.txt pins numpy~=1.26.1 and scipy~=1.15.3: there np.cov of a (1, 512) array with
rowvar=False is the scalar variance of the 512 entries (numpy keeps a single row as one variable),
so the FD is finite. numpy >= 2 returns a 512x512 all-NaN matrix instead.

Runs calculate_embd_statistics and calculate_frechet_distance of Dorniwang/Verse-Bench
fd/clap_inferencer.py (read from the fetched snapshot, the two functions only: the rest of the file
imports the model code) on the embeddings of make_clap.py's first two clips.
"""

import json
import os
import sys
import warnings

import numpy as np
import scipy

src = open(os.path.join(os.environ.get("VERSE_BENCH", "/tmp/ref-verse"), "fd/clap_inferencer.py")).read()
ns = {}
exec(
    compile(
        "import numpy as np\nfrom scipy import linalg\n"
        + src[src.index("def calculate_embd_statistics") : src.index("class ClapInferencer")],
        "clap_inferencer.py",
        "exec",
    ),
    ns,
)
exp = json.load(open(sys.argv[1]))
names = list(exp["files"])
pairs = []
for a, b in [(0, 1), (0, 2), (1, 2), (2, 2)]:
    e1 = np.array([exp["files"][names[a]]["embedding"]], dtype=np.float32)
    e2 = np.array([exp["files"][names[b]]["embedding"]], dtype=np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mu1, s1 = ns["calculate_embd_statistics"](e1)
        mu2, s2 = ns["calculate_embd_statistics"](e2)
        value = float(ns["calculate_frechet_distance"](mu1, s1, mu2, s2))
    pairs.append(
        {
            "generated": names[a],
            "reference": names[b],
            "fd": value,
            "sigma_shape": list(np.shape(s1)),
            "warnings": sorted({str(w.message)[:80] for w in caught}),
        }
    )
json.dump(
    {
        "source": "Dorniwang/Verse-Bench fd/clap_inferencer.py calculate_embd_statistics + "
        "calculate_frechet_distance (infer_fd's numpy part) on make_clap.py's embeddings",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "pairs": pairs,
    },
    open(sys.argv[2], "w"),
    indent=1,
)
print(json.dumps(pairs, indent=1))
