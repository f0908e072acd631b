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
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from minimax import code_version
from minimax.metrics.sample_size import AUTO_M_CONSTANT, AUTO_M_RANGE, samples_for  # noqa: F401
from minimax.runtime import device_identity
from minimax.study import options as _options
from minimax.study import plugins as _plugins
from minimax.study.registry import ESTIMATORS, METRICS, target_kinds
from minimax.validation import check_choice, check_int, check_real

#: Keys a study (CLI or TOML) may set, with their defaults when no preset sets them.
SIZINGS = ("theory", "fixed")
BOUNDARIES = ("band", "smooth")
BACKENDS = ("loky", "dask")


@dataclass(frozen=True)
class Preset:
    """Defaults of a study size class; every field can be overridden on the command line."""

    name: str
    description: str
    n_min: int
    n_max: int
    n_steps: int
    replicates: int
    samples: int | str  # M, samples of q̂ per TV evaluation, or "auto" (samples_for)
    estimators: tuple[str, ...]
    metrics: tuple[str, ...] = ("tv",)
    #: the largest M of "auto" (a compute budget; the rule itself is proportional to n)
    samples_cap: int = AUTO_M_RANGE[1]

    def n_grid(self) -> tuple[int, ...]:
        return geometric_grid(self.n_min, self.n_max, self.n_steps)


PRESETS = {
    "quick": Preset(
        name="quick",
        description="sized for a 2-core CPU: about 10 minutes for D=2 including the DDPM",
        n_min=250,
        n_max=8000,
        n_steps=6,
        replicates=3,
        samples="auto",
        estimators=("kde", "ddpm", "uniform", "gaussian"),
        # sampling 800,000 points through the DDPM (the rule at n = 8000, D = 2) takes about
        # 7 minutes per replicate set on this CPU; past the cap the rule is not proportional
        # and the calibration arm measures what that costs
        samples_cap=200_000,
    ),
    "paper": Preset(
        name="paper",
        description="sized for one GPU: 2.5 decades of n, 5 replicates, M = 1e6",
        n_min=250,
        n_max=64_000,
        n_steps=9,
        replicates=5,
        samples=1_000_000,
        estimators=(
            "kde",
            "ddpm",
            "empirical-score",
            "ddpm-fixed-tmin",
            "uniform",
            "gaussian",
        ),
    ),
}


def geometric_grid(n_min: int, n_max: int, n_steps: int) -> tuple[int, ...]:
    """``n_steps`` integers spaced geometrically from n_min to n_max (duplicates removed)."""
    n_min = check_int("n_min", n_min, low=1)
    n_max = check_int("n_max", n_max, low=1)
    n_steps = check_int("n_steps", n_steps, low=3)
    if n_max <= n_min:
        raise ValueError(f"n_max={n_max!r} is not allowed: expected n_max > n_min={n_min}")
    grid = np.unique(np.round(np.geomspace(n_min, n_max, n_steps)).astype(np.int64))
    return tuple(int(v) for v in grid)


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
        cap = PRESETS[self.preset].samples_cap if self.preset in PRESETS else None
        return samples_for(n, self.target.D, cap=cap)

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


# -- validation --------------------------------------------------------------------------
def validate_spec(spec: StudySpec) -> None:
    """Raise ValueError (naming parameter, value and what is allowed) on any bad field."""
    t = spec.target
    check_choice("target", t.kind, target_kinds())
    check_int("D", t.D, low=1, high=16)
    check_real("s", t.s, low=0, low_open=True)
    check_real("p", t.p, low=0, low_open=True)
    check_choice("boundary", t.boundary, BOUNDARIES)
    check_int("target_seed", t.seed, low=0)
    if not spec.name or any(c in spec.name for c in "/\\\n"):
        raise ValueError(
            f"name={spec.name!r} is not allowed: expected a non-empty name, no slashes"
        )
    check_n_grid(spec.n)
    check_int("replicates", spec.replicates, low=1, high=1000)
    if not spec.estimators:
        raise ValueError("estimators=() is not allowed: expected at least one estimator")
    for est in spec.estimators:
        check_choice("estimator", est, tuple(ESTIMATORS))
    if len(set(spec.estimators)) != len(spec.estimators):
        raise ValueError(f"estimators={list(spec.estimators)!r} is not allowed: duplicates")
    if not spec.metrics:
        raise ValueError("metrics=() is not allowed: expected at least one metric")
    for m in spec.metrics:
        check_choice("metric", m, tuple(METRICS))
    if "score" in spec.metrics and t.D > 2:
        raise ValueError(f"metric='score' is not allowed with D={t.D}: its oracle needs D <= 2")
    for m in spec.metrics:
        if not any(_options.metric_applies(m, e) for e in spec.estimators):
            scored = [k for k in ESTIMATORS if _options.metric_applies(m, k)]
            raise ValueError(
                f"metric={m!r} is not allowed with estimators {','.join(spec.estimators)}: it "
                f"applies only to {', '.join(scored)}"
            )
    if spec.sampler != "default":
        check_choice("sampler", spec.sampler, _options.sampler_names())
    if spec.samples != "auto":
        try:
            check_int("M", spec.samples, low=100, high=100_000_000)
        except ValueError:
            raise ValueError(
                f"M={spec.samples!r} is not allowed: expected an integer in [100, 100000000] "
                "or 'auto'"
            ) from None
    check_choice("sizing", spec.sizing, SIZINGS)
    check_device(spec.device)
    check_int("seed", spec.seed, low=0, high=2**63 - 1)
    check_real("margin", spec.margin, low=0, high=1, low_open=True, high_open=True)
    opts = json.loads(spec.options)
    for est in opts:
        check_choice("option estimator", est, tuple(ESTIMATORS))
    _options.check_options(opts)


def check_n_grid(n) -> tuple[int, ...]:
    values = tuple(n)
    for v in values:
        check_int("n", v, low=1)
    if len(set(values)) < 3:
        raise ValueError(
            f"n={list(values)!r} is not allowed: expected at least 3 distinct positive sizes"
        )
    if len(set(values)) != len(values):
        raise ValueError(f"n={list(values)!r} is not allowed: duplicate sizes")
    return values


def check_device(device) -> str:
    if not isinstance(device, str) or not (
        device in ("auto", "cpu") or device == "cuda" or device.startswith("cuda:")
    ):
        raise ValueError(f"device={device!r} is not allowed: expected 'auto', 'cpu' or 'cuda[:k]'")
    return device


def parse_n_list(text: str) -> tuple[int, ...]:
    """'256,512,1024' → (256, 512, 1024); 1e3-style and 1_000 accepted when integral."""
    values = []
    for part in text.split(","):
        part = part.strip().replace("_", "")
        try:
            v = float(part)
        except ValueError:
            raise ValueError(
                f"n={text!r} is not allowed: expected comma-separated integers, e.g. 256,512,1024"
            ) from None
        if not math.isfinite(v) or v != int(v):
            raise ValueError(f"n={text!r} is not allowed: {part!r} is not an integer")
        values.append(int(v))
    return check_n_grid(values)


def parse_options(items) -> dict:
    """['ddpm.lr=1e-3', 'kde.order=4'] → {'ddpm': {'lr': 0.001}, 'kde': {'order': 4}}.

    Values are read as TOML values (numbers, booleans, quoted strings) and fall back to text.
    """
    out: dict = {}
    for item in items or ():
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(
                f"set={item!r} is not allowed: expected ESTIMATOR.KEY=VALUE, e.g. ddpm.lr=1e-3"
            )
        lhs, rhs = item.split("=", 1)
        est, key = lhs.split(".", 1)
        check_choice("set estimator", est, tuple(ESTIMATORS))
        try:
            value = tomllib.loads(f"v = {rhs}")["v"]
        except tomllib.TOMLDecodeError:
            value = rhs
        out.setdefault(est, {})[key] = value
    return out


def options_text(options: dict) -> str:
    return json.dumps(options or {}, sort_keys=True)


# -- TOML study files --------------------------------------------------------------------
#: keys of a study file; those in GRID_AXES may be lists inside [[grid]] tables (a product)
STUDY_KEYS = {
    "name",
    "seed",
    "preset",
    "target",
    "target_seed",
    "D",
    "s",
    "p",
    "boundary",
    "n",
    "n_min",
    "n_max",
    "n_steps",
    "replicates",
    "estimators",
    "metrics",
    "M",
    "sampler",
    "sizing",
    "device",
    "margin",
    "options",
    "grid",
    "description",
}
GRID_AXES = ("target", "target_seed", "D", "s", "p", "boundary", "sampler", "sizing", "M")


def spec_from_values(values: dict, *, name: str, arm: str = "") -> StudySpec:
    """Build a StudySpec from flat values (CLI or one TOML grid point) over a preset's defaults."""
    preset_name = values.get("preset") or "quick"
    check_choice("preset", preset_name, tuple(PRESETS))
    preset = PRESETS[preset_name]
    D = _get(values, "D", 2)
    s = _get(values, "s", 1.5)
    p = _get(values, "p", 2.0)
    target = TargetSpec(
        kind=_get(values, "target", "besov"),
        D=check_int("D", D, low=1, high=16),
        s=check_real("s", s, low=0, low_open=True),
        p=check_real("p", p, low=0, low_open=True),
        boundary=_get(values, "boundary", "band"),
        seed=check_int("target_seed", _get(values, "target_seed", 0), low=0),
    )
    if values.get("n") is not None:
        n = values["n"]
        n = parse_n_list(n) if isinstance(n, str) else check_n_grid(n)
    elif any(values.get(k) is not None for k in ("n_min", "n_max", "n_steps")):
        n = geometric_grid(
            _get(values, "n_min", preset.n_min),
            _get(values, "n_max", preset.n_max),
            _get(values, "n_steps", preset.n_steps),
        )
    else:
        n = preset.n_grid()
    estimators = _names(values.get("estimators"), preset.estimators, "estimators")
    metrics = _names(values.get("metrics"), preset.metrics, "metrics")
    options = _get(values, "options", {})
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise ValueError(
            f"options={options!r} is not allowed: expected a table of tables, "
            "e.g. [options.ddpm] lr = 1e-3"
        )
    return StudySpec(
        name=name,
        target=target,
        n=tuple(sorted(n)),
        replicates=_get(values, "replicates", preset.replicates),
        estimators=estimators,
        metrics=metrics,
        samples=_get(values, "M", preset.samples),
        sampler=_get(values, "sampler", "default"),
        sizing=_get(values, "sizing", "theory"),
        device=_get(values, "device", "auto"),
        seed=_get(values, "seed", 0),
        options=options_text(options),
        arm=arm,
        preset=preset_name,
        margin=_get(values, "margin", 0.05),
    )


def _get(values: dict, key: str, default):
    value = values.get(key)
    return default if value is None else value


def _names(value, default, name) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name}={value!r} is not allowed: expected a list of names")
    return tuple(value)


def load_study_file(path) -> list[StudySpec]:
    """Read a TOML study file into StudySpecs (one per grid point); raise ValueError if bad.

    Top-level keys set the study's defaults; each ``[[grid]]`` table is a product over the keys
    whose values are lists (only ``GRID_AXES`` may vary) and may override any other key.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"study file={str(path)!r} is not allowed: no such file")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(
            f"study file={str(path)!r} is not allowed: malformed TOML ({exc})"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"study file={str(path)!r} is not allowed: not UTF-8 text") from None
    unknown = sorted(set(data) - STUDY_KEYS)
    if unknown:
        raise ValueError(
            f"study key={unknown[0]!r} is not allowed: expected one of {', '.join(sorted(STUDY_KEYS))}"
        )
    name = data.get("name") or path.stem
    if not isinstance(name, str):
        raise ValueError(f"name={name!r} is not allowed: expected text")
    base = {k: v for k, v in data.items() if k not in ("grid", "description", "name")}
    grids = data.get("grid") or [{}]
    if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise ValueError("grid is not allowed: expected [[grid]] tables")
    specs: list[StudySpec] = []
    for g in grids:
        bad = sorted(set(g) - (STUDY_KEYS - {"grid", "name", "description", "seed"}))
        if bad:
            raise ValueError(f"grid key={bad[0]!r} is not allowed in [[grid]]")
        axes = {k: v for k, v in g.items() if isinstance(v, list) and k in GRID_AXES}
        for k, v in g.items():
            if (
                isinstance(v, list)
                and k not in GRID_AXES
                and k
                not in (
                    "n",
                    "estimators",
                    "metrics",
                )
            ):
                raise ValueError(
                    f"grid key={k!r} is not allowed as a list: only {', '.join(GRID_AXES)} vary"
                )
        fixed = {k: v for k, v in g.items() if k not in axes}
        for point in _product(axes):
            values = {**base, **fixed, **point}
            varying = [
                f"{k}={values[k]}"
                for k in ("sampler", "sizing", "M", "target_seed")
                if k in axes or (k in fixed and k not in ("M",))
            ]
            spec = spec_from_values(values, name=name)
            arm = spec.target.label() + ("".join(" " + v for v in varying) if varying else "")
            specs.append(replace(spec, arm=arm))
    arms = [s.arm for s in specs]
    dup = sorted({a for a in arms if arms.count(a) > 1})
    if dup:
        raise ValueError(f"grid point={dup[0]!r} is not allowed: it appears twice in {path}")
    return specs


def _product(axes: dict) -> list[dict]:
    points = [{}]
    for k, values in axes.items():
        if not values:
            raise ValueError(f"grid key={k!r} is not allowed: empty list")
        points = [{**pt, k: v} for pt in points for v in values]
    return points
