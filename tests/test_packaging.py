"""The install holds one top-level package, `nava_eval`, and no code imports the bare folder names."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

REPO_ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("nava", "benchmarks", "metrics", "reports", "runners")


def _python_files() -> list[Path]:
    roots = [REPO_ROOT / name for name in (*FOLDERS, "nava_eval", "tests")]
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_imports_a_bare_folder_name() -> None:
    """`import metrics` would pick up an unrelated package of that name once installed beside ours."""
    offenders = []
    for path in _python_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {name}"
                for name in names
                if name.split(".")[0] in FOLDERS
            ]
    assert not offenders, "import through nava_eval.<folder>:\n" + "\n".join(offenders)


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        "nava_eval." + ".".join(init.parent.relative_to(REPO_ROOT).parts)
        for name in FOLDERS
        for init in (REPO_ROOT / name).rglob("__init__.py")
    }
    assert on_disk - set(config["packages"]) == set(), "add these to [tool.setuptools] packages"
    assert {f"nava_eval.{name}": name for name in FOLDERS}.items() <= config["package-dir"].items()


@pytest.mark.slow
def test_wheel_top_level_is_nava_eval_only(tmp_path: Path) -> None:
    """Build the wheel from a copy of the sources (no network, the installed setuptools) and list it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in (*FOLDERS, "nava_eval"):
        shutil.copytree(REPO_ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, src / name)
    out = tmp_path / "dist"
    code = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=src, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = out / done.stdout.strip().splitlines()[-1]
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"nava_eval"}
    # Data files and the deepest subpackages travel too.
    assert "nava_eval/reports/published.csv" in names
    assert "nava_eval/rundir/schemas/results.schema.json" in names
    assert "nava_eval/nava/modeling/model.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "nava-eval = nava_eval.runners.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


#: Distribution name → import name, where they differ.
IMPORT_NAMES = {
    "pyyaml": "yaml",
    "pillow": "PIL",
    "opencv-contrib-python": "cv2",
    "imageio-ffmpeg": "imageio_ffmpeg",
    "huggingface-hub": "huggingface_hub",
    "openai-whisper": "whisper",
    "python-speech-features": "python_speech_features",
    "syncnet-python": "syncnet_python",
    "flash-attn": "flash_attn",
}
#: Declared but never imported, each for a reason stated in pyproject.toml.
NOT_IMPORTED = {
    "sentencepiece": "transformers reads umt5's spiece.model through it",
    "pytest-timeout": "a pytest plugin",
    "ruff": "a command",
}


def test_every_declared_dependency_is_imported_somewhere() -> None:
    """A declared dependency that nothing imports is dead weight (or belongs in NOT_IMPORTED with a reason)."""
    import re

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"]) + [
        d for deps in project["optional-dependencies"].values() for d in deps
    ]
    names = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in declared}
    source = "\n".join(p.read_text() for p in _python_files())
    unused = []
    for name in sorted(names - set(NOT_IMPORTED)):
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        if not re.search(rf"^\s*(import|from) {re.escape(module)}(\.|\s|$)", source, flags=re.M):
            unused.append(f"{name} (import {module})")
    assert not unused, "declared but never imported: " + ", ".join(unused)
    assert set(NOT_IMPORTED) <= names  # the exemptions are still declared
