#!/usr/bin/env bash
# Serve the web app and the scheduler beside it; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRM_ENV=${CRM_ENV:-development}
export CRM_COMPANY_NAME=${CRM_COMPANY_NAME:-Bicicletas Rivera}
trap 'kill 0' INT TERM EXIT
.venv/bin/flask --app wsgi crm scheduler &
.venv/bin/flask --app wsgi run --host 127.0.0.1 --port "${PORT:-5000}" &
wait -n  # when either stops, stop the other (the trap)
