"""Check NavaModel against a reference-vector folder or against a release key list.

A reference folder (format of ../shared/fixtures/nava_tiny) holds `config.json`, `weights.safetensors`,
`cases.safetensors` (keys `<case>.<field>`), `cases.json` (per case: fields with shapes) and a README
stating the tolerances. A case's *kind* is the leading letter of its name (`a_joint`, `c2_speaker_null`
-> "a", "c"); `CASE_RUNNERS` maps each kind to the function that recomputes its outputs. Kinds listed
in `PENDING_KINDS` are reported as pending until a runner is registered for them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nava_eval.nava.checkpoint import (
    CheckpointError,
    build_model,
    compare_keys,
    count_parameters,
    expected_keys,
    load_model,
)
from nava_eval.nava.config import NavaConfig
from nava_eval.nava.modeling import NavaModel

logger = logging.getLogger(__name__)

PASS, FAIL, PENDING = "pass", "FAIL", "pending"
DEFAULT_SINGLE_TOL = 1e-4  # README of nava_tiny: rtol = atol = 1e-4 for single forwards (fp32)
DEFAULT_TRAJECTORY_TOL = 1e-3


# ------------------------------------------------------------------------------------------------------
# tolerances


@dataclass(frozen=True)
class Tolerances:
    rtol: float = DEFAULT_SINGLE_TOL
    atol: float = DEFAULT_SINGLE_TOL
    trajectory: float = DEFAULT_TRAJECTORY_TOL


_NUMBER = r"([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)"


def read_tolerances(readme: Path) -> Tolerances:
    """The README states them in prose ("rtol 1e-4 and atol 1e-4 ... about 1e-3 for the trajectories")."""
    if not readme.is_file():
        logger.warning("%s missing; using default tolerances", readme)
        return Tolerances()
    text = " ".join(readme.read_text().split())
    single = re.search(rf"rtol {_NUMBER} and atol {_NUMBER}", text)
    trajectory = re.search(rf"about {_NUMBER} for the trajectories", text)
    if single is None:
        logger.warning("%s states no 'rtol X and atol Y'; using %g", readme, DEFAULT_SINGLE_TOL)
    return Tolerances(
        rtol=float(single.group(1)) if single else DEFAULT_SINGLE_TOL,
        atol=float(single.group(2)) if single else DEFAULT_SINGLE_TOL,
        trajectory=float(trajectory.group(1)) if trajectory else DEFAULT_TRAJECTORY_TOL,
    )


# ------------------------------------------------------------------------------------------------------
# cases


@dataclass(frozen=True)
class Comparison:
    """One recomputed output against its reference; `trajectory` selects the looser tolerance."""

    name: str
    actual: torch.Tensor
    expected: torch.Tensor
    trajectory: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    about: str
    fields: dict[str, torch.Tensor]  # field name -> tensor, from cases.safetensors
    meta: dict = field(default_factory=dict)  # the case's entry in cases.json

    def get(self, name: str) -> torch.Tensor | None:
        return self.fields.get(name)

    def require(self, name: str) -> torch.Tensor:
        if name not in self.fields:
            raise KeyError(f"case {self.name} lacks field {name!r}")
        return self.fields[name]


CaseRunner = Callable[[NavaModel, Case], list[Comparison]]


def _speaker_args(case: Case) -> dict:
    return {"spk_embed": case.get("spk_embed"), "spk_pos": case.get("spk_pos")}


def _forward_case(model: NavaModel, case: Case, **flags: bool) -> list[Comparison]:
    """Model-level forward: video [C, T, H, W] (absent = audio-only), audio [La, C], one context."""
    video = case.get("video_latent")
    with torch.no_grad():
        out = model(
            None if video is None else video[None],
            case.require("audio_latent")[None],
            case.require("timestep"),
            [case.require("context")],
            **_speaker_args(case),
            **flags,
        )
    comparisons = [Comparison("out_audio", out.audio[0], case.require("out_audio"))]
    if video is not None:
        comparisons.insert(0, Comparison("out_video", out.video[0], case.require("out_video")))
    return comparisons


def _padded_pipeline_case(model: NavaModel, case: Case) -> list[Comparison]:
    """Pipeline-level forward: token-major video [T*H*W, C] on a (possibly odd) grid `t_h_w`."""
    frames, height, width = (int(v) for v in case.require("t_h_w"))
    tokens = case.require("latents_video")
    video = tokens.reshape(frames, height, width, -1).permute(3, 0, 1, 2)  # [C, T, H, W]
    with torch.no_grad():
        out = model(
            video[None],
            case.require("latents_audio")[None],
            case.require("timestep"),
            [case.require("context")],
            **_speaker_args(case),
        )
    out_tokens = out.video[0].permute(1, 2, 3, 0).reshape(-1, tokens.shape[1])
    return [
        Comparison("out_video", out_tokens, case.require("out_video")),
        Comparison("out_audio", out.audio[0], case.require("out_audio")),
    ]


# Extension point: kind letter -> runner. The sampler adds "f" (guided step) and "g" (schedule and
# trajectories) here; they must return Comparisons (trajectory=True for multi-step outputs).
CASE_RUNNERS: dict[str, CaseRunner] = {
    "a": _forward_case,  # joint forward
    "b": lambda model, case: _forward_case(model, case, modality_mask=True),  # 3D-CFG 'M' pass
    "c": _forward_case,  # speaker injection (fields spk_embed / spk_pos decide)
    "d": lambda model, case: _forward_case(model, case, first_frame_clean=True),  # I2V
    "e": _forward_case,  # audio-only (no video_latent field)
    "h": _padded_pipeline_case,  # odd H/W padding at pipeline level
}
#: Kinds reported as pending (not failed) until a runner is registered for them.
PENDING_KINDS: dict[str, str] = {}


def _register_sampler_cases() -> None:
    # Imported here: runners.verify_sampler imports this module's Comparison type.
    from nava_eval.nava.verify.sampler import SAMPLER_CASE_RUNNERS

    CASE_RUNNERS.update(SAMPLER_CASE_RUNNERS)


_register_sampler_cases()


def case_kind(name: str) -> str:
    match = re.match(r"([a-z])\d*_", name)
    if match is None:
        raise ValueError(f"case name {name!r} does not start with a kind letter (e.g. 'a_joint', 'c2_...')")
    return match.group(1)


# ------------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class CaseResult:
    name: str
    status: str  # PASS | FAIL | PENDING
    max_abs: float | None = None
    max_rel: float | None = None
    tolerance: str = ""
    detail: str = ""

    def line(self) -> str:
        if self.status == PENDING:
            return f"{self.name:<24} {'pending':<7} {self.detail}"
        errors = (
            f"max_abs {self.max_abs:.2e}  max_rel {self.max_rel:.2e}  ({self.tolerance})"
            if self.max_abs is not None
            else ""
        )
        detail = f"  {self.detail}" if self.detail else ""
        return f"{self.name:<24} {self.status:<7} {errors}{detail}"


@dataclass(frozen=True)
class FolderResult:
    folder: Path
    results: tuple[CaseResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.status != FAIL for r in self.results)


def _score(name: str, comparisons: list[Comparison], tol: Tolerances) -> CaseResult:
    worst_abs = worst_rel = 0.0
    failed: list[str] = []
    for comp in comparisons:
        actual, expected = comp.actual.detach().float().cpu(), comp.expected.detach().float().cpu()
        rtol = atol = tol.trajectory if comp.trajectory else None
        if rtol is None:
            rtol, atol = tol.rtol, tol.atol
        if actual.shape != expected.shape:
            failed.append(f"{comp.name} shape {list(actual.shape)} != {list(expected.shape)}")
            continue
        diff = (actual - expected).abs()
        # Relative error with atol as the floor of the denominator, so near-zero references don't explode.
        rel = diff / expected.abs().clamp(min=atol)
        worst_abs = max(worst_abs, float(diff.max()))
        worst_rel = max(worst_rel, float(rel.max()))
        if not torch.allclose(actual, expected, rtol=rtol, atol=atol) or not torch.isfinite(actual).all():
            failed.append(comp.name)
    tolerance = f"rtol {tol.rtol:g} atol {tol.atol:g}"
    if any(c.trajectory for c in comparisons):
        tolerance += f"; trajectories {tol.trajectory:g}"
    return CaseResult(
        name,
        FAIL if failed else PASS,
        worst_abs,
        worst_rel,
        tolerance,
        f"outside tolerance: {', '.join(failed)}" if failed else "",
    )


def run_case(model: NavaModel, case: Case, tol: Tolerances) -> CaseResult:
    runner = CASE_RUNNERS.get(case.kind)
    if runner is None:
        if case.kind in PENDING_KINDS:
            return CaseResult(case.name, PENDING, detail=PENDING_KINDS[case.kind])
        return CaseResult(case.name, FAIL, detail=f"no runner for case kind {case.kind!r}")
    try:
        comparisons = runner(model, case)
    except (KeyError, ValueError, RuntimeError) as err:
        return CaseResult(case.name, FAIL, detail=f"{type(err).__name__}: {err}")
    return _score(case.name, comparisons, tol)


def load_cases(folder: Path) -> list[Case]:
    """Every case listed in cases.json, with its tensors; a listed field missing from the file is an error."""
    from safetensors import safe_open

    listing = json.loads((folder / "cases.json").read_text())["cases"]
    cases = []
    with safe_open(str(folder / "cases.safetensors"), framework="pt", device="cpu") as handle:
        stored = set(handle.keys())
        for name, meta in listing.items():
            fields: dict[str, torch.Tensor] = {}
            for field_name, spec in meta.get("fields", {}).items():
                key = f"{name}.{field_name}"
                if key in stored:
                    fields[field_name] = handle.get_tensor(key)
                    if list(fields[field_name].shape) != list(spec["shape"]):
                        raise ValueError(
                            f"{key}: shape {list(fields[field_name].shape)} != cases.json {spec['shape']}"
                        )
            # Pattern fields such as step<i>_latent_video are listed once; take every stored tensor of the case.
            for key in stored:
                if key.startswith(name + ".") and key[len(name) + 1 :] not in fields:
                    fields[key[len(name) + 1 :]] = handle.get_tensor(key)
            missing = [f for f in meta.get("fields", {}) if "<" not in f and f not in fields]
            if missing:
                raise ValueError(
                    f"{folder / 'cases.safetensors'} lacks {name}.{missing[0]} listed in cases.json"
                )
            cases.append(Case(name, case_kind(name), meta.get("about", ""), fields, meta))
    return cases


def verify_folder(folder: str | Path, device: str = "cpu") -> FolderResult:
    """Load config + weights strictly (fp32) and run every case of the folder."""
    folder = Path(folder)
    for required in ("config.json", "weights.safetensors", "cases.json", "cases.safetensors"):
        if not (folder / required).is_file():
            raise FileNotFoundError(f"{folder} is not a reference folder: {required} is missing")
    config = NavaConfig.from_json(folder / "config.json")
    model = load_model(folder / "weights.safetensors", config, device=device, weight_dtype="fp32")
    tol = read_tolerances(folder / "README.md")
    cases = load_cases(folder)
    if torch.device(device).type != "cpu":  # inputs follow the model; comparisons run on the CPU
        cases = [dataclasses.replace(c, fields={k: v.to(device) for k, v in c.fields.items()}) for c in cases]
    results = tuple(run_case(model, case, tol) for case in cases)
    return FolderResult(folder, results)


# ------------------------------------------------------------------------------------------------------
# key lists


@dataclass(frozen=True)
class KeyCheck:
    model: str  # the architecture checked (nava-6b, nava-tiny)
    key_file: Path
    num_tensors: int
    num_parameters: int
    expected_parameters: int | None  # from the key file's header, when it states one
    problems: str  # "" when names and shapes agree

    @property
    def ok(self) -> bool:
        return not self.problems and self.expected_parameters in (None, self.num_parameters)


def read_key_list(path: Path) -> tuple[dict[str, tuple[int, ...]], int | None]:
    """`name<TAB>[d0, d1, ...]<TAB>dtype` lines; '#' lines are comments (one may state total_params=N)."""
    shapes: dict[str, tuple[int, ...]] = {}
    total: int | None = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("#"):
            found = re.search(r"total_params=(\d+)", line)
            total = int(found.group(1)) if found else total
            continue
        parts = line.split("\t")
        try:
            shapes[parts[0]] = tuple(json.loads(parts[1]))
        except (IndexError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}:{number}: expected 'name<TAB>[shape]', got {line!r}") from err
    return shapes, total


def verify_keys(model_name: str, key_file: str | Path) -> KeyCheck:
    """Build the model on the meta device and compare names and shapes with a key list."""
    key_file = Path(key_file)
    model = build_model(NavaConfig.for_model(model_name), "meta")
    listed, total = read_key_list(key_file)
    report = compare_keys(listed, expected_keys(model))
    problems = "" if report.ok else report.describe()
    # compare_keys(expected=list, found=model): "missing" = in the list but not built, and vice versa.
    problems = problems.replace("missing", "in the key list but not in the model").replace(
        "unexpected", "in the model but not in the key list"
    )
    return KeyCheck(model_name, key_file, len(expected_keys(model)), count_parameters(model), total, problems)


__all__ = [
    "CASE_RUNNERS",
    "PENDING_KINDS",
    "Case",
    "CaseResult",
    "CheckpointError",
    "Comparison",
    "FolderResult",
    "KeyCheck",
    "Tolerances",
    "load_cases",
    "read_key_list",
    "read_tolerances",
    "run_case",
    "verify_folder",
    "verify_keys",
]
