"""The commands that read what exists: ``report``, ``plan`` and ``paper`` (a stored results
folder, never recomputing a cell) and ``list`` (what a study can run). Input is validated by
:mod:`minimax.study.cli` before these run."""

from __future__ import annotations

from pathlib import Path

from minimax.study.spec import PRESETS


def run_command(args, table) -> int:
    """report / plan / paper on the stored ``table`` of ``args.dir``."""
    if args.command in ("report", "plan"):
        from minimax.reporting.report import build_report, study_margins

        margins = study_margins(args.dir)
        if args.command == "plan":
            from minimax.study.planning import plan_lines

            rep = build_report(table, None, figures=False, margin=margins)
            print("\n".join(plan_lines(rep.fits, args.width)))
            return 0
        out = Path(args.out) if args.out else Path(args.dir)
        rep = build_report(table, out, figures=not args.no_figures, margin=margins)
        print(rep.text, end="")
        print("wrote:\n" + "\n".join(f"  {p}" for p in rep.files))
        return 0
    if args.command == "paper":
        from minimax.reporting.paper import build_paper

        paper = build_paper(
            args.dir,
            args.out,
            figures=not args.no_figures,
            exploration=args.exploration,
            samples=args.samples,
            adaptivity=args.adaptivity,
            generative=args.generative,
            generative_resampled=args.generative_resampled,
            calibration=args.calibration,
            generative_calibration=args.generative_calibration,
        )
        print(
            f"{len(paper.fits)} fits; {len(paper.macros)} macros; budget components absent: "
            + (", ".join(paper.absent_budget) or "none")
        )
        print("wrote:\n" + "\n".join(f"  {p}" for p in paper.files))
        return 0
    raise AssertionError(f"unknown command {args.command!r}")


def list_entries() -> int:
    """Targets, estimators, metrics, samplers and presets, one per line."""
    from minimax.study.registry import ESTIMATORS, METRICS, target_kinds

    print("targets:    " + ", ".join(target_kinds()))
    print("estimators:")
    for e in ESTIMATORS.values():
        print(f"  {e.name:<18}{e.role:<18}{e.description}")
    print("metrics:")
    for m in METRICS.values():
        print(f"  {m.name:<18}{m.description}")
    print("samplers:   " + ", ".join(_samplers()))
    print("presets:")
    for p in PRESETS.values():
        print(
            f"  {p.name:<8}n {p.n_min}..{p.n_max} ({p.n_steps} sizes), {p.replicates} replicates, "
            f"M = {p.samples}: {p.description}"
        )
    return 0


def _samplers() -> tuple[str, ...]:
    try:
        from minimax.diffusion import SAMPLERS
    except (ImportError, AttributeError):
        return ("default",)
    return ("default", *tuple(SAMPLERS))
