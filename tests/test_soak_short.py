"""The short soak (bench/soak) as a test: gunicorn with 4 workers and the scheduler on a fresh
database, simulated agents and supervisors for 30 s, faults on, every pass criterion enforced.

Collected only when CRM_SOAK=1 (it takes about a minute and a half and wants the machine's
CPUs to itself): on the SQLite run it soaks SQLite, on the PostgreSQL run (CRM_TEST_POSTGRES)
a fresh database on that server. The same run without pytest: `python -m bench.soak --short`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("CRM_TEST_POSTGRES")


def soak_requested(test):
    return test if os.environ.get("CRM_SOAK") == "1" else None


@soak_requested
def test_short_soak_passes_every_criterion():
    engine = ["--engine", "postgresql", "--pg-server", PG_SERVER] if PG_SERVER else ["--engine", "sqlite"]
    result = subprocess.run([sys.executable, "-m", "bench.soak", "--short", *engine], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert "FAIL" not in result.stdout and ": PASS" in result.stdout, report[-6000:]
