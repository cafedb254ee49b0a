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


ROOMS = ("nava", "benchmarks", "metrics", "reports", "runners")
#: DESIGN.md's "Never" list: (importing room, imported module prefix). `core` is nava_eval/ itself.
NEVER = [
    *(("nava", f"nava_eval.{room}") for room in ("benchmarks", "metrics", "reports", "runners")),
    ("metrics", "nava_eval.nava"),
    ("reports", "torch"),
    ("reports", "nava_eval.runners"),
    ("benchmarks", "nava_eval.nava.modeling"),
    *(("core", f"nava_eval.{room}") for room in ROOMS),
]
#: The core's doors into the rooms, named in DESIGN.md: nava_eval/__init__.py is the public API facade
#: (`nava_eval.evaluate`, `nava_eval.load_results`, each loaded on first use) and `python -m nava_eval` the CLI.
CORE_DOORS = {
    "nava_eval/__init__.py": ("nava_eval.runners.api", "nava_eval.reports.rows"),
    "nava_eval/__main__.py": ("nava_eval.runners.cli",),
}


def _room(path: Path) -> str:
    top = path.relative_to(REPO_ROOT).parts[0]
    return "core" if top == "nava_eval" else top


def _imports(path: Path, root: Path = REPO_ROOT) -> list[tuple[int, str]]:
    """Every module `path` imports, function-level and relative imports included, as absolute names."""
    package = ["nava_eval", *path.relative_to(root).parent.parts]
    if package[1:2] == ["nava_eval"]:
        package = package[1:]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            # `from nava_eval import reports` imports a room too.
            out += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return out


def _room_modules() -> list[Path]:
    roots = [REPO_ROOT / name for name in (*ROOMS, "nava_eval")]
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _target_room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "nava_eval" and len(parts) > 1 and parts[1] in ROOMS:
        return parts[1]
    return None


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_no_room_imports_what_design_md_forbids() -> None:
    """DESIGN.md's "Never" list, function-level imports included (they run as surely, only later)."""
    offenders = []
    for path in _room_modules():
        room, rel = _room(path), path.relative_to(REPO_ROOT).as_posix()
        for line, module in _imports(path):
            if any(_within(module, door) for door in CORE_DOORS.get(rel, ())):
                continue
            offenders += [
                f"{rel}:{line}: {room} -> {module}"
                for who, what in NEVER
                if who == room and _within(module, what)
            ]
    assert not offenders, "imports DESIGN.md forbids:\n" + "\n".join(sorted(set(offenders)))


def test_no_two_rooms_import_each_other() -> None:
    edges: dict[tuple[str, str], list[str]] = {}
    for path in _room_modules():
        room = _room(path)
        for line, module in _imports(path):
            target = _target_room(module)
            if target is not None and target != room and room != "core":
                edges.setdefault((room, target), []).append(f"{path.relative_to(REPO_ROOT)}:{line}")
    both = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert not both, "\n".join(f"{a} <-> {b}: {edges[(a, b)][0]} and {edges[(b, a)][0]}" for a, b in both)


def test_the_import_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The parser sees function-level and relative imports (so the two tests above can fail)."""
    module = tmp_path / "reports" / "probe.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from ..runners import run\n    import torch\n")
    found = [m for _, m in _imports(module, tmp_path)]
    assert "nava_eval.runners" in found and "nava_eval.runners.run" in found and "torch" in found


def test_tests_of_torch_free_modules_run_without_importing_torch() -> None:
    """The run-directory and report tests collect and pass in a process that never imports torch."""
    import subprocess
    import sys

    script = (
        "import sys, pytest\n"
        "rc = pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/rundir/test_rundir_files.py',"
        " 'tests/reports/test_stats.py'])\n"
        "print('TORCH_IMPORTED' if 'torch' in sys.modules else 'TORCH_ABSENT')\n"
        "sys.exit(int(rc))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "TORCH_ABSENT" in done.stdout, done.stdout[-2000:]


def test_cpu_tests_in_a_folder_named_gpu_are_not_skipped() -> None:
    """Only the `gpu` marker skips a test on CPU: tests/runners/perf/gpu/ holds CPU tests of the GPU bench."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/runners/perf/gpu/test_gpubench_timing.py",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
