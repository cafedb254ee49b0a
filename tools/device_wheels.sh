#!/usr/bin/env bash
# Wheels that `nava-eval bench gpu` needs on the lent H200 machine and that its image lacks
# (/work/.library/device/KINDS.md lists what it has: torch 2.11, transformers, safetensors, numpy,
# opencv-python-headless, scipy, pandas, click, rich, tqdm, ...). Downloaded into .whl/ (ignored by
# git) for CPython 3.12 on x86-64; a device call carries them with `carry: [".whl"]`. About 37 MB.
# PyAV is left out on purpose (36 MB more would pass the 64 MiB a call carries): without it,
# metrics.media_decode.probe reads ffmpeg's stream listing instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
mkdir -p .whl
"$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  diffusers==0.42.1 \
  imageio-ffmpeg==0.6.0 \
  syncnet-python==0.2.3 \
  ffmpeg-python==0.2.0 \
  future==1.0.0 \
  scenedetect==0.6.7 \
  platformdirs==4.14.8
# python_speech_features is published as a source archive only: build its pure-Python wheel here.
"$PYTHON" -m pip wheel --no-deps -w .whl python_speech_features==0.6
du -ch .whl/*.whl | tail -n 1
