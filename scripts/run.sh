#!/usr/bin/env bash
# Serve the web app (and, once it has jobs, the scheduler); Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRM_ENV=${CRM_ENV:-development}
trap 'kill 0' INT TERM EXIT
.venv/bin/flask --app wsgi run --host 127.0.0.1 --port "${PORT:-5000}" &
wait
