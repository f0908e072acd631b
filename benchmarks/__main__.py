"""Run the benchmarks: ``python -m benchmarks [name ...]`` (names without the ``bench_`` prefix).

Each module compares our code with the plain alternative in the same run and reports the
ratio; its Markdown table is printed and written to ``benchmarks/results/<name>.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = argv or sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name.startswith("bench_")
    )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    for name in names:
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        text = mod.main()
        tmp = out / f".{name}.md.tmp"
        tmp.write_text(text)
        tmp.replace(out / f"{name}.md")
        print(text, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
