"""Benchmarks: `python -m bench.generate` builds demo databases at scale,
`python -m bench.run` (what `make bench` runs) measures the server time of the
customer search, the customer page (on identical probe customers, bench/probes.py)
and logging a moment at two scales, then runs `python -m bench.sla`, which compares
crm.sla's business-time arithmetic with the businesstimedelta library.

Generated databases are cached under bench/.data/ (git-ignored); the last figures
are written to bench/.data/last-run.txt.
"""
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
PROJECT_DIR = BENCH_DIR.parent
