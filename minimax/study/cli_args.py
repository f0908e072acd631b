"""The command line's building blocks: the parser that turns bad input into one line
(:class:`UsageError`, exit 2), the help formatter, the run options every study command shares
and the argument types that name their parameter when they refuse a value."""

from __future__ import annotations

import argparse
import math
import os

from minimax.study.spec import BACKENDS


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError (one line) and refuses abbreviations."""

    def __init__(self, *args, **kwargs):  # --estimator is not --estimators, --d not --device
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):  # argparse would print the usage too; one line is the contract
        raise UsageError(message)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where the help text already says it."""

    def _get_help_string(self, action):
        if action.default is None or "default" in (action.help or ""):
            return action.help
        if isinstance(action.default, bool) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def formatter(prog):
    """The help formatter every subcommand uses."""
    return HelpFormatter(prog, max_help_position=30, width=100)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options that decide how a study runs and where it writes, never what it computes."""
    g = p.add_argument_group("how to run (changes no number)")
    g.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel workers (processes); each uses --threads torch/BLAS threads",
    )
    g.add_argument("--threads", type=int, default=1, help="torch/BLAS threads per worker")
    g.add_argument(
        "--gpus",
        default="auto",
        help="GPU worker slots: torch cells run one worker per GPU, pinned to cuda:0..N-1, the "
        "other --jobs workers run the CPU-only cells; auto: every visible GPU when a torch "
        "estimator runs on CUDA, else 0; 0: any worker runs any cell",
    )
    g.add_argument("--backend", choices=BACKENDS, default="loky", help="joblib backend")
    g.add_argument(
        "--scheduler",
        default=None,
        help="dask scheduler address (tcp://host:8786) of a running cluster; "
        "default with --backend dask: a LocalCluster on 127.0.0.1",
    )
    g.add_argument("--out", default=None, help="results folder (default: results/<study name>)")
    g.add_argument("--no-figures", action="store_true", help="skip the PNG/PDF figures")
    g.add_argument("--quiet", action="store_true", help="no progress bar, only the final report")
    g.add_argument(
        "--keep-failed",
        action="store_true",
        help="reuse stored cells that failed (by default a rerun computes them again)",
    )
    g.add_argument("-v", "--verbose", action="store_true", help="log every finished cell")


def samples_arg(text: str):
    """--M: an integer or "auto" (the range check is the spec's)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"M={text!r} is not allowed: expected an integer in [100, 100000000] or 'auto'"
        ) from None


def unit_arg(name: str):
    """--margin / --width: a number in (0, 1) (the range check names the parameter)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 < value < 1):
            raise argparse.ArgumentTypeError(
                f"{name}={text!r} is not allowed: expected a number > 0 and < 1"
            )
        return value

    return parse
