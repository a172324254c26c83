"""The database-loss checks (tests/database_loss_checks.py) in their own process, on this run's engine."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_lost_database_gives_503s_and_never_a_late_500():
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                             "tests/database_loss_checks.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert "4 passed" in result.stdout and "failed" not in result.stdout, report[-6000:]
