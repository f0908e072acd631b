"""``python -m minimax.study {rate,sweep,report,plan,paper,samples,list}``: the study's command line.

Bad input (anything the user typed) prints one line to stderr and exits 2, before any folder
is created; faults inside a run are not user errors and keep their traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from minimax.study.cli_args import (
    Parser,
    UsageError,
    add_run_options,
    formatter,
    samples_arg,
    unit_arg,
)
from minimax.study.samples_cli import add_samples_parser, samples_plan, samples_run
from minimax.study.spec import BOUNDARIES, PRESETS, SIZINGS

PROG = "python -m minimax.study"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Measure how fast density estimators (diffusion models and controls) learn "
        "a density of Besov smoothness s in D dimensions, against the minimax exponent "
        "s/(2s+D).",
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    rate = sub.add_parser(
        "rate",
        help="one rate study: error vs n for one target",
        description="Run one rate study (one target, a grid of n, replicates, estimators), fit "
        "the exponent of each estimator and compare it with the theory.",
        formatter_class=formatter,
    )
    t = rate.add_argument_group("the target")
    t.add_argument("--D", type=int, default=2, help="dimension of the cube [-1,1]^D")
    t.add_argument("--s", type=float, default=1.5, help="Besov smoothness s > 0")
    t.add_argument("--p", type=float, default=2.0, help="Besov integrability p > 0")
    t.add_argument(
        "--boundary",
        choices=BOUNDARIES,
        default="band",
        help="band: constant near the edge, jump to 0 outside (Oko et al.); smooth: vanishes smoothly",
    )
    t.add_argument("--target", default="besov", help="target kind (see `list`)")
    t.add_argument("--target-seed", type=int, default=0, help="seed of the target's random signs")
    d = rate.add_argument_group("the design (defaults come from --preset)")
    d.add_argument("--preset", choices=tuple(PRESETS), default="quick", help="study size class")
    d.add_argument(
        "--n",
        default=None,
        help="training sizes, comma-separated, e.g. 256,512,1024 (default: preset grid; "
        + "; ".join(f"{k}: {v.n_min}..{v.n_max} in {v.n_steps}" for k, v in PRESETS.items())
        + ")",
    )
    d.add_argument(
        "--n-min",
        type=int,
        default=None,
        help="smallest n of a geometric grid (default: the preset's)",
    )
    d.add_argument(
        "--n-max",
        type=int,
        default=None,
        help="largest n of a geometric grid (default: the preset's)",
    )
    d.add_argument(
        "--n-steps",
        type=int,
        default=None,
        help="number of sizes of that grid (default: the preset's)",
    )
    d.add_argument(
        "--replicates",
        type=int,
        default=None,
        help="independent training sets per n (default: "
        + ", ".join(f"{k}: {v.replicates}" for k, v in PRESETS.items())
        + ")",
    )
    d.add_argument(
        "--estimators",
        default=None,
        help="comma-separated estimator names (see `list`; default: "
        + "; ".join(f"{k}: {','.join(v.estimators)}" for k, v in PRESETS.items())
        + ")",
    )
    d.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metrics: tv, w1, score (score: diffusion models, D <= 2; default: tv)",
    )
    d.add_argument(
        "--M",
        type=samples_arg,
        default=None,
        help="samples of each fitted model per TV evaluation: an integer, or auto (M per n by "
        "the resolution rule 4^D n/(2πC²), proportional to n; see metrics.sample_size) "
        "(default: " + ", ".join(f"{k}: {v.samples}" for k, v in PRESETS.items()) + ")",
    )
    d.add_argument("--sampler", default="default", help="diffusion sampler (see `list`)")
    d.add_argument(
        "--sizing",
        choices=SIZINGS,
        default="theory",
        help="diffusion hyperparameters: theory (scale with n) or fixed",
    )
    d.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:k]")
    d.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="EST.KEY=VALUE",
        help="override an estimator's hyperparameter, e.g. --set ddpm.lr=1e-3 "
        "(repeatable; default: none)",
    )
    d.add_argument(
        "--seed", type=int, default=0, help="study seed (every cell seed derives from it)"
    )
    d.add_argument("--name", default=None, help="study name (default: rate-<target>-D..-s..)")
    d.add_argument(
        "--margin",
        type=unit_arg("margin"),
        default=0.05,
        help="equivalence margin δ of the verdicts, fixed before the run: 'equivalent to "
        "theory' needs the 90%% CI inside s/(2s+D) ± δ (two one-sided tests; stored in "
        "study.json)",
    )
    add_run_options(rate)

    sweep = sub.add_parser(
        "sweep",
        help="a grid of rate studies from a TOML study file",
        description="Run every grid point of a TOML study file (see studies/quick.toml).",
        formatter_class=formatter,
    )
    sweep.add_argument("file", help="TOML study file")
    add_run_options(sweep)

    report = sub.add_parser(
        "report",
        help="tables, fits and figures from a results folder (no recomputation)",
        formatter_class=formatter,
    )
    report.add_argument("dir", help="results folder written by rate or sweep")
    report.add_argument("--no-figures", action="store_true", help="skip the PNG/PDF figures")
    report.add_argument(
        "--out",
        default=None,
        help="where to write fits.csv, paired.csv, summary.txt and figures/ (default: DIR "
        "itself; the results table is never rewritten)",
    )

    plan = sub.add_parser(
        "plan",
        help="size a study for a target CI half-width from a pilot's results (writes nothing)",
        description="From a pilot results folder, the CI half-width each fit reached and the "
        "replicates (same n) or sizes of n (same spacing and replicates) that would reach "
        "--width, projected from the fit's residual variance (docs/verdicts.md).",
        formatter_class=formatter,
    )
    plan.add_argument("dir", help="pilot results folder written by rate or sweep")
    plan.add_argument(
        "--width",
        type=unit_arg("width"),
        default=None,
        help="target half-width of the 90%% CI (the TOST's) (default: each arm's margin)",
    )

    paper = sub.add_parser(
        "paper",
        help="the paper's figures, tables and macros from a results folder (no recomputation)",
        description="Write the rate plots, the exponent figure, the error-budget figures, "
        "the tables (LaTeX booktabs and Markdown) and macros.tex for paper/main.tex from a "
        "stored results folder alone.",
        formatter_class=formatter,
    )
    paper.add_argument("dir", help="results folder written by rate or sweep")
    paper.add_argument(
        "--out", default="paper", help="paper folder (figures/, tables/, macros.tex)"
    )
    paper.add_argument("--no-figures", action="store_true", help="tables and macros only")
    paper.add_argument(
        "--samples",
        default=None,
        metavar="DIR",
        help="a folder written by the samples command, drawn as the samples figure",
    )
    for flag, what in (
        ("--adaptivity", "the adaptivity study's (studies/adaptivity.toml) results folder, its "
         "section"),
        ("--generative", "the GAN/VAE study's (studies/generative_confirm.toml) results "
         "folder, its section"),
        ("--generative-resampled", "that study's DDPM sampled again "
         "(studies/generative_confirm_dpm2m.toml) results folder, its section"),
        ("--calibration", "the headline's calibration arm with more replicates "
         "(studies/calibration_replicates_confirm.toml) results folder, a sentence beside the "
         "headline's own offsets"),
        ("--generative-calibration", "the GAN/VAE study's calibration arm with more replicates "
         "(studies/calibration_replicates_generative_confirm.toml) results folder, quoted per "
         "arm in its section"),
    ):  # fmt: skip
        paper.add_argument(flag, default=None, metavar="DIR", help=what)
    paper.add_argument(
        "--exploration",
        nargs="+",
        action="extend",
        default=[],
        metavar="DIR",
        help="results folders of the tuning studies, reported as exploration beside the "
        "headline study DIR",
    )

    add_samples_parser(sub, formatter)

    sub.add_parser(
        "list",
        help="targets, estimators, metrics, samplers and presets",
        formatter_class=formatter,
    )
    return parser


def _rate_specs(args):
    from minimax.study.api import default_name
    from minimax.study.spec import parse_options, spec_from_values

    values = {
        "preset": args.preset,
        "target": args.target,
        "target_seed": args.target_seed,
        "D": args.D,
        "s": args.s,
        "p": args.p,
        "boundary": args.boundary,
        "n": args.n,
        "n_min": args.n_min,
        "n_max": args.n_max,
        "n_steps": args.n_steps,
        "replicates": args.replicates,
        "estimators": args.estimators,
        "metrics": args.metrics,
        "M": args.M,
        "sampler": args.sampler,
        "sizing": args.sizing,
        "device": args.device,
        "seed": args.seed,
        "margin": args.margin,
        "options": parse_options(args.set),
    }
    if args.n is not None and any(v is not None for v in (args.n_min, args.n_max, args.n_steps)):
        raise ValueError("n is not allowed together with --n-min/--n-max/--n-steps: choose one")
    name = args.name or default_name(args.target, args.D, args.s, args.p, args.boundary)
    return [spec_from_values(values, name=name)]


def _prepare(specs, args):
    """Validate how to run and where to write; nothing is created here."""
    from minimax.study.api import check_out, prepare

    config, traded = prepare(specs, jobs=args.jobs, backend=args.backend,
                             scheduler=args.scheduler, threads=args.threads, quiet=args.quiet,
                             gpus=args.gpus, keep_failed=args.keep_failed)  # fmt: skip
    out = check_out(Path(args.out) if args.out else Path("results") / specs[0].name)
    return config, out, traded


def _run(specs, config, out: Path, traded: list[str], args) -> int:
    from minimax.study.api import plan_text, run_specs
    from minimax.study.runner import pending_units

    _, pending = pending_units(specs, out, config.keep_failed)
    total = sum(len(s.cells()) for s in specs)
    print(plan_text(specs, config, out, pending, total, traded), flush=True)
    result = run_specs(specs, out, config, report_out=out, figures=not args.no_figures)
    print()
    print(result.summary(), end="")
    print(
        f"\n{result.computed_cells} cells computed, {result.cached_cells} reused, "
        f"{result.failed_cells} failed; {result.seconds:.0f} s"
    )
    print("wrote:")
    for p in result.files:
        print(f"  {p}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "list":
            from minimax.study.commands import list_entries

            return list_entries()
        if args.command == "samples":
            plan = samples_plan(args)
        elif args.command in ("report", "paper", "plan"):
            from minimax.study import store

            table = store.read_table(args.dir)  # the one user error report can meet
            for folder in getattr(args, "exploration", None) or []:
                store.read_table(folder)
            extras = ("adaptivity", "generative", "generative_resampled", "calibration",
                      "generative_calibration")  # fmt: skip
            for extra in extras:
                if getattr(args, extra, None):
                    store.read_table(getattr(args, extra))
            from minimax.reporting.paper_calibration import check_same_design

            if getattr(args, "calibration", None):
                check_same_design(args.dir, args.calibration)
            if getattr(args, "generative_calibration", None):
                if not args.generative:
                    raise UsageError("--generative-calibration needs --generative")
                check_same_design(args.generative, args.generative_calibration)
            if getattr(args, "samples", None):
                from minimax.study.samples import check_samples_folder

                check_samples_folder(args.samples)
            if args.command == "paper" or (args.command == "report" and args.out):
                from minimax.study.api import check_out

                check_out(Path(args.out))
        else:
            if args.command == "rate":
                specs = _rate_specs(args)
            else:
                from minimax.study.spec import load_study_file

                specs = load_study_file(args.file)
            config, out, traded = _prepare(specs, args)
    except (UsageError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    # -- input is valid; from here on a fault is a bug and keeps its traceback --
    if args.command == "samples":
        return samples_run(args, *plan)
    if args.command in ("report", "plan", "paper"):
        from minimax.study.commands import run_command

        return run_command(args, table)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(message)s",
        stream=sys.stderr,
    )
    return _run(specs, config, out, traded, args)
