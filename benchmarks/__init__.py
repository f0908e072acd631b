"""Speed and accuracy benchmarks: each ``bench_*.py`` module has ``main() -> str`` (Markdown)."""
