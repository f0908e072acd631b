"""Validation of study specs, and parsing of what the command line gives (n lists, options).

Every check raises ValueError naming the parameter, its value and what is allowed; a spec that
``validate_spec`` accepts can be expanded into cells and run.
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import TYPE_CHECKING

from minimax.study import options as _options
from minimax.study.registry import ESTIMATORS, METRICS, target_kinds
from minimax.validation import check_choice, check_int, check_real

if TYPE_CHECKING:
    from minimax.study.spec import StudySpec

#: the allowed values of ``sizing``, of the target's ``boundary`` and of the parallel backend
SIZINGS = ("theory", "fixed")
BOUNDARIES = ("band", "smooth")
BACKENDS = ("loky", "dask")


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
    if spec.m_cap is not None:
        check_int("M_cap", spec.m_cap, low=2_000, high=100_000_000)
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
