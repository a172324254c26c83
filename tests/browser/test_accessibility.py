"""axe-core and the keyboard walk (tests/browser/accessibility_checks.py) in their own process.

Run in the suite's worker, those checks left process-wide state behind that a later page
test tripped over (tests/views/test_purchases.py::TestSection::test_empty, next session:
find what); in a child pytest process they keep every check and leak nothing.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
ROOT = Path(__file__).resolve().parent.parent.parent


def test_main_pages_pass_axe_and_the_keyboard_walk():
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/browser/accessibility_checks.py"], cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-8000:]
    assert " passed" in result.stdout and "failed" not in result.stdout and "skipped" not in result.stdout, \
        report[-8000:]
