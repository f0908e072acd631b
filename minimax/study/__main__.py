"""Command line: ``python -m minimax.study {rate,sweep,report,list}`` (see ``--help``)."""

from minimax.study.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
