#!/usr/bin/env bash
# The accessibility tests inject axe-core (from the npm registry, pinned by its lock file)
# into the pages the browser tests open.
set -euo pipefail
cd "$(dirname "$0")/../tests/browser/axe"
if [ -f node_modules/axe-core/axe.min.js ] && [ node_modules/.installed -nt package-lock.json ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is needed to install axe-core for the browser tests" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
touch node_modules/.installed
