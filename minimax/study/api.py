"""The study from Python: ``RateStudy(...).run()`` returns a :class:`StudyResult`.

::

    from minimax import RateStudy

    result = RateStudy(D=1, s=1.0, n=[250, 500, 1000, 2000], replicates=3,
                       estimators=["kde", "uniform", "gaussian"]).run(jobs=2)
    result.table          # the tidy table (pandas), as results.parquet
    result.fits           # the RateFits: exponent, CI, verdict
    print(result.summary())
    fig = result.plot()   # a matplotlib Figure; nothing is written

The command line's ``rate`` and ``sweep`` run through :func:`run_specs`, so a study gives the
same cells, seeds and numbers from either. Estimators and targets: registered names, a user's
Estimator or Target instance, or a class registered by ``minimax.study.plugins``'s decorators.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from minimax.study import plugins
from minimax.study.registry import ESTIMATORS


def default_name(target: str, D, s, p, boundary) -> str:
    """The study's default name (the command line's): rate-<target>-D..-s..-p..-<boundary>."""
    return f"rate-{target}-D{D}-s{s:g}-p{p:g}-{boundary}"


def check_out(out: Path) -> Path:
    """``out`` when it can be a results folder; ValueError (one line) otherwise; creates nothing."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is not allowed: it is a file; expected a folder")
    parent = next((p for p in [out, *out.parents] if p.exists()), None)
    if parent is not None and not os.access(parent, os.W_OK):
        raise ValueError(f"out={str(out)!r} is not allowed: {str(parent)!r} is not writable")
    return out


def prepare(
    specs,
    *,
    jobs=1,
    backend="loky",
    scheduler=None,
    threads=1,
    quiet=True,
    gpus="auto",
    keep_failed=False,
):
    """Validate how to run, the devices and the targets (every check that can fail before the
    first cell); returns the RunConfig and the budget trade-offs to print. Creates nothing."""
    from minimax.study.budget import tradeoffs
    from minimax.study.runner import RunConfig, check_devices, resolve_gpus
    from minimax.study.worker import build_target

    check_devices(specs)
    if backend == "loky" or gpus != "auto":
        gpus = resolve_gpus(gpus, specs)
    else:
        gpus = 0
    config = RunConfig(
        jobs=jobs,
        backend=backend,
        scheduler=scheduler,
        threads=threads,
        quiet=quiet,
        gpus=gpus,
        keep_failed=keep_failed,
    )
    for spec in specs:  # the target's own checks (e.g. s > D(1/p - 1/2)_+) fail here, not in a cell
        plugins.install_plugins(spec.plugins)
        build_target(spec.target, max(spec.n))
    return config, tradeoffs(specs)  # sizes the DDPM with the user's overrides: bad ones fail


def plan_text(specs, config, out: Path, pending: int, total: int, traded: list[str]) -> str:
    """What a run will do, printed before it starts: cells, workers, each arm's design and the
    budget trade-offs."""
    s = specs[0]
    lines = [
        f"study {s.name}: {len(specs)} arm(s), {total} cells ({pending} to compute, "
        f"{total - pending} already in {out / 'cells'}), {config.jobs} {config.backend} worker(s)"
        + (f", torch cells on {config.gpus} GPU worker(s)" if config.gpus else "")
    ]
    for spec in specs[:6]:
        n = spec.n
        decades = math.log10(max(n) / min(n))
        lines.append(
            f"  {spec.arm_label()}: n = {', '.join(map(str, n))} ({decades:.1f} decades), "
            f"{spec.replicates} replicates, M = {spec.samples_label()}, "
            f"estimators {', '.join(spec.estimators)}; preset {spec.preset}"
        )
    if len(specs) > 6:
        lines.append(f"  ... and {len(specs) - 6} more arms")
    lines += ["  " + t for t in traded]
    return "\n".join(lines)


@dataclass
class StudyResult:
    """What a study measured: the tidy table, the rate fits and paired comparisons, the text
    the command line prints, and the run's counts."""

    table: pd.DataFrame
    fits: list
    pairs: list
    text: str
    specs: list
    computed_cells: int = 0
    cached_cells: int = 0
    failed_cells: int = 0
    seconds: float = math.nan
    traded: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """The printed report: per arm and metric the points, the fits beside theory, the
        verdicts, paired differences and the error budget (the CLI's summary.txt)."""
        return self.text

    @property
    def fits_table(self) -> pd.DataFrame:
        """One row per fit (fits.csv)."""
        return pd.DataFrame([f.row() for f in self.fits])

    @property
    def budget(self) -> dict[str, str]:
        """Per arm, the error budget of its diffusion estimators (empty text when none)."""
        from minimax.study.budget import budget_table

        return {
            arm: budget_table(
                self.table[self.table["arm"] == arm], [f for f in self.fits if f.arm == arm]
            )
            for arm in dict.fromkeys(self.table["arm"])
        }

    def plot(self, metric: str = "tv", arm: str | None = None):
        """The rate figure of one arm (default: the first) and metric, a matplotlib Figure;
        nothing is written (``fig.savefig(...)`` does)."""
        from minimax.reporting.report import rate_figure

        arms = list(dict.fromkeys(self.table["arm"]))
        arm = arms[0] if arm is None else arm
        fits = [f for f in self.fits if f.arm == arm and f.metric == metric]
        if arm not in arms or not fits:
            have = sorted({(f.arm, f.metric) for f in self.fits})
            raise ValueError(f"arm={arm!r}, metric={metric!r} is not allowed: fitted are {have}")
        df = self.table[(self.table["arm"] == arm) & (self.table["metric"] == metric)]
        fig = rate_figure(fits, df, metric, arm)
        if fig is None:
            raise ValueError(f"metric={metric!r} is not allowed: no cell has a positive value")
        return fig


def run_specs(specs, out, config, *, report_out=None, figures=False) -> StudyResult:
    """Compute the missing cells of ``specs`` under ``out`` and fit them; with ``report_out``
    also write fits.csv, paired.csv, summary.txt and (``figures``) the figures there."""
    from minimax.reporting.report import build_report
    from minimax.study.runner import run_study

    run = run_study(specs, out, config)
    margins = {s.arm_label(): s.margin for s in specs}
    rep = build_report(run.table, report_out, figures=figures, margin=margins)
    return StudyResult(
        table=run.table,
        fits=rep.fits,
        pairs=rep.pairs,
        text=rep.text,
        specs=list(specs),
        computed_cells=run.computed_cells,
        cached_cells=run.cached_cells,
        failed_cells=run.failed_cells,
        seconds=run.seconds,
        files=[*run.paths.values(), Path(out) / "study.json", *rep.files],
    )


class RateStudy:
    """One rate study: a target, a grid of n, replicates, estimators and metrics.

    ``target``: a registered kind ("besov", "sparse-multiscale", "gmm", or one registered by
    ``register_target``) with ``D``, ``s``, ``p``, ``boundary``, ``target_seed``; or a Target
    instance (its ``dim`` is D; ``s`` is needed for the theory's exponent, from ``s=`` or the
    instance's ``s``). ``estimators``: names, or {name: registered name or Estimator
    instance}. ``M``: samples per sampled TV (an integer or "auto"); ``margin``: the verdicts'
    equivalence margin δ. Anything left out takes the ``preset``'s default, as on the command
    line. Bad input raises a one-line ValueError here, before anything runs.
    """

    def __init__(
        self,
        target="besov",
        *,
        n=None,
        replicates=None,
        estimators=None,
        metrics=None,
        M=None,
        margin=0.05,
        D=None,
        s=None,
        p=None,
        boundary=None,
        target_seed=None,
        sampler="default",
        sizing="theory",
        device="auto",
        seed=0,
        options=None,
        preset="quick",
        name=None,
    ):
        from minimax.study.spec import spec_from_values

        if not isinstance(target, str):  # an instance: registered under its class's name
            kind = type(target).__name__.lower()
            plugins.target_from_instance(kind, target)
            if D is not None and D != getattr(target, "dim", None):
                raise ValueError(f"D={D!r} is not allowed: the target has dim {target.dim}")
            D = target.dim
            s = s if s is not None else getattr(target, "s", None)
            if s is None:
                raise ValueError(
                    "s=None is not allowed with a Target instance: give s= (its smoothness, "
                    "for the theory's exponent s/(2s+D))"
                )
            target = kind
        values = {
            "preset": preset,
            "target": target,
            "target_seed": target_seed,
            "D": D,
            "s": s,
            "p": p,
            "boundary": boundary,
            "n": list(n) if n is not None and not isinstance(n, str) else n,
            "replicates": replicates,
            "estimators": self._estimators(estimators),
            "metrics": metrics if metrics is None or isinstance(metrics, str) else list(metrics),
            "M": M,
            "sampler": sampler,
            "sizing": sizing,
            "device": device,
            "seed": seed,
            "margin": margin,
            "options": options or {},
        }
        spec = spec_from_values(values, name=name or "rate")
        if name is None:  # the command line's default name: the same cells, seeds and numbers
            t = spec.target
            spec = replace(spec, name=default_name(t.kind, t.D, t.s, t.p, t.boundary))
        self.spec = spec

    @staticmethod
    def _estimators(estimators):
        if estimators is None or isinstance(estimators, str):
            return estimators
        if not isinstance(estimators, dict):
            return list(estimators)
        names = []
        for name, est in estimators.items():
            if isinstance(est, str):
                if est != name:
                    raise ValueError(
                        f"estimators[{name!r}]={est!r} is not allowed: a registered estimator "
                        f"keeps its name (use {est!r}: {est!r})"
                    )
                if est not in ESTIMATORS:
                    from minimax.validation import check_choice

                    check_choice("estimator", est, tuple(ESTIMATORS))
            else:
                plugins.estimator_from_instance(name, est)
            names.append(name)
        return names

    def run(
        self,
        jobs: int = 1,
        backend: str = "loky",
        cache=None,
        *,
        threads: int = 1,
        scheduler=None,
        gpus="auto",
        keep_failed: bool = False,
        quiet: bool = True,
    ) -> StudyResult:
        """Compute the study and fit it. ``cache``: a results folder (finished cells are reused
        and the tidy table is written there, as the command line does); None: a temporary
        folder, removed afterwards. The report files (fits.csv, figures) are not written."""
        specs = [self.spec]
        config, traded = prepare(
            specs,
            jobs=jobs,
            backend=backend,
            scheduler=scheduler,
            threads=threads,
            quiet=quiet,
            gpus=gpus,
            keep_failed=keep_failed,
        )
        if cache is not None:
            result = run_specs(specs, check_out(Path(cache)), config)
        else:
            with tempfile.TemporaryDirectory(prefix="minimax-study-") as tmp:
                result = run_specs(specs, Path(tmp), config)
                result.files = []
        result.traded = traded
        return result
