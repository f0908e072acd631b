"""Command line: ``python -m minimax.study {rate,sweep,report,plan,paper,samples,list}`` (see
``--help``)."""

import os
import sys

from minimax.study.cli import main

if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BrokenPipeError:  # output piped into `head`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
