"""Study specs from flat values (the command line, one grid point of a TOML study file).

``spec_from_values`` fills what the values leave out from a preset (``spec_presets``);
``load_study_file`` reads a TOML study file into one StudySpec per grid point, each with an arm
label naming what varies, and refuses unknown keys and grid points that appear twice.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from minimax.study.spec_checks import check_n_grid, options_text, parse_n_list
from minimax.study.spec_presets import PRESETS, geometric_grid
from minimax.validation import check_choice, check_int, check_real

if TYPE_CHECKING:
    from minimax.study.spec import StudySpec

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
    "M_cap",
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
    # spec re-exports this module's functions, so the classes are imported when called
    from minimax.study.spec import StudySpec, TargetSpec

    allowed = STUDY_KEYS - {"grid", "description"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(f"{unknown[0]}={values[unknown[0]]!r} is not allowed{hint}: expected "
                         f"one of {', '.join(sorted(allowed))}")  # fmt: skip
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
        m_cap=values.get("M_cap"),
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
