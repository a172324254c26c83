#!/usr/bin/env bash
# The whole suite, twice: on SQLite (with the browser tests) and on a fresh PostgreSQL
# database. A missing PostgreSQL or browser is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_SERVER=${CRM_TEST_POSTGRES:-postgresql+psycopg://postgres@127.0.0.1:5432}
mkdir -p test-results
export CRM_REQUIRE_BROWSER=1

# Fail first and clearly when the PostgreSQL half cannot run.
.venv/bin/python - "$PG_SERVER" <<'PY'
import sys
import sqlalchemy as sa
try:
    sa.create_engine(sys.argv[1] + "/postgres").connect().close()
except Exception as exc:
    sys.exit(f"PostgreSQL is required by the test suite and unreachable at {sys.argv[1]}: {exc}")
PY

echo "== lint =="
.venv/bin/ruff check crm tests scripts bench

echo "== SQLite =="
.venv/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup \
  --junitxml=test-results/sqlite.xml "$@"

echo "== PostgreSQL ($PG_SERVER) =="
CRM_TEST_POSTGRES="$PG_SERVER" .venv/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup \
  -m "not browser" --junitxml=test-results/postgres.xml "$@"

echo "== short soak: gunicorn + scheduler under simulated staff and faults, both engines =="
# It fails CI on any lost or doubled record, a 5xx, "database is locked", a fault the app did
# not recover from, or a page's p95 over 250 ms. The 150 ms target is judged by the full run
# (`make soak`, 5 minutes per engine, figures in the README): 30 s of samples on a shared CI
# box are too few to hold to it without failing on noise, but a 2x regression still fails here.
.venv/bin/python -m bench.soak --short --p95 250 --pg-server "$PG_SERVER"

.venv/bin/python scripts/check_results.py test-results/sqlite.xml test-results/postgres.xml
