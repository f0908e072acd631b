"""The ``samples`` command: its options, its validation (nothing written on bad input) and
its run (:mod:`minimax.study.samples` does the work)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_samples_parser(sub, formatter) -> None:
    """Add ``samples`` to the command line's subparsers."""
    samples = sub.add_parser(
        "samples",
        help="refit stored cells and draw their samples beside q (figure and parquet)",
        description="Rebuild cells of a results folder from its study.json (same training "
        "sets, same seeds), refit the estimator, draw the M samples its TV was computed from, "
        "check the recomputed TV against the stored row, and write samples.parquet, "
        "samples.csv and figures/samples.png|pdf.",
        formatter_class=formatter,
    )
    samples.add_argument("dir", help="results folder written by rate or sweep")
    samples.add_argument("--estimator", default="ddpm", help="a sampled model of the study")
    samples.add_argument(
        "--arm",
        action="append",
        default=None,
        help="arm label as in the results' arm column (repeatable; required when the study "
        "has several arms)",
    )
    samples.add_argument(
        "--n", type=_sizes_arg, default=None, help="sizes, comma-separated (default: all)"
    )
    samples.add_argument("--replicate", type=int, default=0, help="which replicate")
    samples.add_argument(
        "--keep", type=int, default=20_000, help="samples kept per cell (the figure's)"
    )
    samples.add_argument(
        "--out", default=None, help="output folder (default: DIR_samples; never DIR itself)"
    )
    samples.add_argument("--no-figures", action="store_true", help="samples and table only")
    samples.add_argument(
        "--threads", type=int, default=1, help="torch threads (the study's --threads)"
    )


def _sizes_arg(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"n={text!r} is not allowed: expected comma-separated integers"
        ) from None
    if not sizes:
        raise argparse.ArgumentTypeError(f"n={text!r} is not allowed: expected a size")
    return sizes


def samples_plan(args):
    """(cells to refit, output folder), validated; nothing is written."""
    from minimax.study import store
    from minimax.study.api import check_out
    from minimax.study.samples import select_cells, specs_from_results

    table = store.read_table(args.dir)
    specs = specs_from_results(args.dir)
    if args.keep < 1:
        raise ValueError(f"keep={args.keep} is not allowed: expected a positive integer")
    if args.threads < 1:
        raise ValueError(f"threads={args.threads} is not allowed: expected a positive integer")
    chosen = [select_cells(specs, table, args.estimator, arm, args.n, args.replicate)
              for arm in (args.arm or [None])]  # fmt: skip
    out = Path(args.out) if args.out else Path(str(Path(args.dir)).rstrip("/") + "_samples")
    if out.resolve() == Path(args.dir).resolve():
        raise ValueError(f"out={str(out)!r} is not allowed: it is the input folder")
    return table, chosen, check_out(out)


def samples_run(args, table, chosen, out: Path) -> int:
    from minimax.study.samples import refit_samples, write_samples

    drawn = []
    for spec, sizes in chosen:
        for n in sizes:
            c = refit_samples(spec, n, args.estimator, table, args.replicate, args.keep,
                              threads=args.threads)  # fmt: skip
            drawn.append(c)
            print(f"{c.arm} n={c.n} {c.estimator}: TV recomputed {c.tv_recomputed:.6f}, "
                  f"stored {c.tv_stored:.6f}"
                  + ("" if c.reproduced else "  (differs: the code's numbers changed since)"),
                  flush=True)  # fmt: skip
    files = write_samples(drawn, out, figures=not args.no_figures)
    print("wrote:\n" + "\n".join(f"  {p}" for p in files))
    return 0
