"""Benchmarks: `python -m bench.generate` builds demo databases at scale,
`python -m bench.run` (what `make bench` runs) measures the server time of the
customer search, the customer page and logging a moment, and prints the figures.

Generated databases are cached under bench/.data/ (git-ignored).
"""
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
PROJECT_DIR = BENCH_DIR.parent
