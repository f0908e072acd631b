"""Study specifications: what to run, expanded into cells with stable seeds.

A :class:`StudySpec` is one rate experiment: one target, one grid of sample sizes n, a number of
replicates and a list of estimators. It expands into cells (n × replicate × estimator) and groups
them into work units (n × estimator, all replicates together, so that diffusion replicates train
as one batched ensemble). A sweep is a list of StudySpecs read from a TOML file.

Seeds come from ``numpy.random.SeedSequence`` with entropy taken from a SHA-256 of the cell's key
(study, target, n, replicate, estimator) and the study seed, never from Python's ``hash()``, so a
cell's numbers do not depend on worker count, run order or backend. The training data of a
replicate is keyed without the estimator: every estimator sees the same training sets (common
random numbers), which makes differences between estimators paired comparisons.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from minimax import code_version
from minimax.metrics.sample_size import AUTO_M_CONSTANT, AUTO_M_RANGE, rule_samples, samples_for  # noqa: F401
from minimax.runtime import device_identity
from minimax.study import plugins as _plugins
from minimax.study.registry import ESTIMATORS

# presets, checks and study files live in their own modules; their names stay importable here
from minimax.study.spec_checks import (  # noqa: F401
    BACKENDS,
    BOUNDARIES,
    SIZINGS,
    check_device,
    check_n_grid,
    options_text,
    parse_n_list,
    parse_options,
    validate_spec,
)
from minimax.study.spec_files import (  # noqa: F401
    GRID_AXES,
    STUDY_KEYS,
    load_study_file,
    spec_from_values,
)
from minimax.study.spec_presets import PRESETS, Preset, geometric_grid  # noqa: F401


@dataclass(frozen=True)
class TargetSpec:
    """The truth of one study: ``make_target(kind, D=..., s=..., p=..., boundary=..., seed=...)``."""

    kind: str = "besov"
    D: int = 2
    s: float = 1.5
    p: float = 2.0
    boundary: str = "band"
    seed: int = 0

    def key(self) -> str:
        """A stable text key (part of every seed key)."""
        return (
            f"{self.kind}:D={self.D}:s={self.s!r}:p={self.p!r}:"
            f"boundary={self.boundary}:seed={self.seed}"
        )

    def label(self) -> str:
        return f"{self.kind} D={self.D} s={self.s:g} p={self.p:g} {self.boundary}"


@dataclass(frozen=True)
class StudySpec:
    """One rate experiment (one target, one n grid); every number a cell needs, validated."""

    name: str
    target: TargetSpec
    n: tuple[int, ...]
    replicates: int
    estimators: tuple[str, ...]
    metrics: tuple[str, ...] = ("tv",)
    samples: int | str = 40_000
    sampler: str = "default"
    sizing: str = "theory"
    device: str = "auto"
    seed: int = 0
    #: per-estimator keyword overrides, e.g. {"ddpm": {"lr": 1e-3}}; stored as sorted JSON text
    options: str = "{}"
    #: short text naming what distinguishes this spec from others of the same sweep
    arm: str = ""
    preset: str = "quick"
    #: equivalence margin δ of the verdicts (|a − s/(2s+D)| < δ), fixed before the run; it
    #: changes no cell's numbers, so it is not part of a cell's identity (docs/verdicts.md)
    margin: float = 0.05
    #: the largest M of ``M = "auto"`` when set (study files' ``M_cap``); None: the preset's
    m_cap: int | None = None
    #: the user's estimators and targets it uses (``minimax.study.plugins``), which travel
    #: with it to the workers; filled from the registry, empty for built-in entries alone
    plugins: tuple = field(default=(), compare=False, repr=False)

    def __post_init__(self):
        validate_spec(self)
        if not self.plugins:
            object.__setattr__(self, "plugins", _plugins.spec_plugins(self))

    def samples_at(self, n: int) -> int:
        """M at training size n: the fixed ``samples``, or :func:`samples_for` when "auto"."""
        if self.samples != "auto":
            return int(self.samples)
        return samples_for(n, self.target.D, cap=self.samples_cap())

    def samples_cap(self) -> int:
        """The largest M of ``M = "auto"``: ``m_cap`` when set, else the preset's
        ``samples_cap`` (a compute budget)."""
        if self.m_cap is not None:
            return int(self.m_cap)
        return PRESETS[self.preset].samples_cap if self.preset in PRESETS else AUTO_M_RANGE[1]

    def samples_label(self) -> str:
        """M as printed: the integer, or "auto (M at the smallest n → at the largest)"."""
        if self.samples != "auto":
            return str(self.samples)
        return f"auto ({self.samples_at(min(self.n))} → {self.samples_at(max(self.n))})"

    # -- derived -------------------------------------------------------------------------
    @property
    def theory_exponent(self) -> float:
        """The minimax TV exponent s/(2s+D) (Oko et al. 2023, Thm 5.1 and Prop 5.2)."""
        return self.target.s / (2 * self.target.s + self.target.D)

    def entry(self, estimator: str):
        """The registry entry of ``estimator``: the spec's own for a user's estimator (another
        registered since under the same name does not change this spec's cells)."""
        for kind, obj in self.plugins:
            if kind == "estimator" and obj.name == estimator:
                return obj
        return ESTIMATORS[estimator]

    def estimator_options(self, estimator: str) -> dict:
        return dict(json.loads(self.options).get(estimator, {}))

    def arm_label(self) -> str:
        return self.arm or self.target.label()

    def units(self) -> list[WorkUnit]:
        """The work units, largest n first (long jobs first keeps the workers busy)."""
        return [
            WorkUnit(spec=self, n=n, estimator=est)
            for n in sorted(self.n, reverse=True)
            for est in self.estimators
        ]

    def cells(self) -> list[Cell]:
        return [c for u in self.units() for c in u.cells()]

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "plugins"}
        d["target"] = asdict(self.target)
        d["options"] = json.loads(self.options)
        return json.loads(json.dumps(d))  # tuples as lists, as asdict + json wrote them


@dataclass(frozen=True)
class Cell:
    """One (target, n, replicate, estimator) of a study."""

    spec: StudySpec
    n: int
    replicate: int
    estimator: str

    def seed_key(self) -> dict:
        return {
            "study": self.spec.name,
            "target": self.spec.target.key(),
            "n": self.n,
            "replicate": self.replicate,
            "estimator": self.estimator,
        }

    @property
    def seed(self) -> int:
        """The cell's seed (63 bits): fit, sampling and metric streams derive from it."""
        return stable_seed(self.spec.seed, self.seed_key())

    @property
    def data_seed(self) -> int:
        """The seed of the training set, shared by every estimator (common random numbers)."""
        key = self.seed_key()
        key.pop("estimator")
        return stable_seed(self.spec.seed, key)

    def streams(self) -> dict[str, np.random.Generator]:
        """Independent generators for the training data, fitting, sampling and the metrics."""
        fit, sample, metric = np.random.SeedSequence(self.seed).spawn(3)
        return {
            "data": np.random.default_rng(np.random.SeedSequence(self.data_seed)),
            "fit": np.random.default_rng(fit),
            "sample": np.random.default_rng(sample),
            "metric": np.random.default_rng(metric),
        }

    def content(self) -> dict:
        """Everything that determines this cell's numbers (its cache identity).

        Settings of the diffusion engine (sampler, sizing, device) are left out for estimators
        that do not use it, so an ablation over them reuses the controls' cells. The device
        enters as ``device_identity``: where "auto" resolved to, the GPU model, the torch
        version, so a study resumed on another device (or a pool of mixed workers) never mixes
        their numbers.
        """
        s = self.spec
        content = {
            "version": code_version(),
            "study": s.name,
            "study_seed": s.seed,
            "target": asdict(s.target),
            "n_max": max(s.n),  # the target's finest level depends on the largest n
            "n": self.n,
            "replicate": self.replicate,
            "replicates": s.replicates,  # ensembles train all replicates together
            "estimator": self.estimator,
            "options": s.estimator_options(self.estimator),
            "metrics": list(s.metrics),
            "samples": s.samples_at(self.n),
        }
        entry = s.entry(self.estimator)
        if entry.uses_torch:
            # the resolved device (type, GPU model, torch version), not the text "auto"
            content.update(sampler=s.sampler, sizing=s.sizing, device=device_identity(s.device))
        if entry.plugin:  # a user's estimator: its class (and an instance's parameters)
            content["plugin"] = entry.identity
        target_plugin = next((p for k, p in s.plugins if k == "target"), None)
        if target_plugin is not None:
            content["target_plugin"] = target_plugin.identity
        return content

    @property
    def cell_id(self) -> str:
        """SHA-256 (first 24 hex digits) of :meth:`content`: the cell's file name."""
        return stable_hash(self.content())[:24]


@dataclass(frozen=True)
class WorkUnit:
    """One (target, n, estimator) with all its replicates: the unit of parallel work."""

    spec: StudySpec
    n: int
    estimator: str
    replicates: tuple[int, ...] = field(default=())

    def cells(self) -> list[Cell]:
        reps = self.replicates or tuple(range(self.spec.replicates))
        return [Cell(self.spec, self.n, r, self.estimator) for r in reps]


def stable_hash(obj) -> str:
    """SHA-256 hex digest of the canonical JSON of ``obj`` (sorted keys; floats by repr)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def stable_seed(study_seed: int, key: dict) -> int:
    """A 63-bit integer from SHA-256 of (study seed, key): the entropy of a SeedSequence."""
    digest = hashlib.sha256(stable_hash({"seed": study_seed, "key": key}).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
