"""Command line: ``python -m minimax.study rate --D 2 --s 1.5`` (placeholder until the study lands)."""

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print("minimax.study: the rate study is being built; it will run: " + " ".join(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
