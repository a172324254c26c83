#!/usr/bin/env bash
# `make security`: attack a local copy of Fideliza with demo data, on 127.0.0.1 only.
#   1. sqlmap on the login form, the customer search and API endpoints (with a valid token);
#   2. wapiti on the pages, logged in as an admin;
#   3. schemathesis on /api/v1/openapi.json, every operation, with a valid token.
# Fails when sqlmap finds an injectable parameter, wapiti a high-severity (or critical)
# finding, or schemathesis a server error or an answer outside its schema.
# Reports land in test-results/security/. Each step is bounded in time (see the budgets).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${CRM_SECURITY_PORT:-5099}
BASE="http://127.0.0.1:$PORT"
OUT=test-results/security
SQLMAP_BUDGET=${CRM_SQLMAP_SECONDS:-240}      # per target
WAPITI_BUDGET=${CRM_WAPITI_SECONDS:-480}      # whole scan: crawl 120 s, then 30 s per module
SCHEMATHESIS_BUDGET=${CRM_SCHEMATHESIS_SECONDS:-240}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fideliza-security.XXXXXX")
rm -rf "$OUT" && mkdir -p "$OUT"

unset FLASK_DEBUG  # never the Werkzeug debugger on a server under attack
export CRM_ENV=development CRM_DATABASE_URL="sqlite:///$WORK/crm.db" CRM_MAIL_DIR="$WORK/mail"
export CRM_COMPANY_NAME="Bicicletas Rivera" CRM_LOG_LEVEL=WARNING
FLASK=".venv/bin/flask --app wsgi"

echo "== a fresh SQLite database with the demo business ($WORK) =="
$FLASK db upgrade >/dev/null 2>&1
$FLASK crm seed-demo | tail -1
TOKEN=$($FLASK crm create-token --email admin@demo.local --name security | tail -1)

# Login throttling would answer every attempt after the 20th alike, and sqlmap would learn
# nothing from the login form (a false "not injectable"): this copy lifts the limit.
APP='crm:create_app({"CRM_LOGIN_MAX_PER_ADDRESS": 1000000000, "CRM_LOGIN_MAX_PER_ACCOUNT": 1000000000})'
.venv/bin/flask --app "$APP" run --host 127.0.0.1 --port "$PORT" --no-reload --with-threads \
  >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do
  curl -fs -o /dev/null "$BASE/healthz" && break
  sleep 0.2
done
curl -fs -o /dev/null "$BASE/healthz" || { echo "the app did not start: see $OUT/server.log" >&2; exit 1; }

# An admin's session cookie, logged in through the real form. Sessions are bound to the
# browser (Flask-Login's "strong" protection): every tool below sends this same User-Agent.
UA="fideliza-security-scan"
SESSION=$(.venv/bin/python - "$BASE" "$UA" <<'PY'
import re
import sys

import requests

base = sys.argv[1]
s = requests.Session()
s.headers["User-Agent"] = sys.argv[2]
token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', s.get(f"{base}/login").text).group(1)
r = s.post(f"{base}/login", data={"email": "admin@demo.local", "password": "demo", "csrf_token": token},
           allow_redirects=False)
assert r.status_code == 302, f"admin login failed: {r.status_code}"
assert s.get(f"{base}/admin", allow_redirects=False).status_code == 200, "the admin session does not open /admin"
print(s.cookies["session"])
PY
)

failed=0
started=$SECONDS

echo "== sqlmap (level 2, risk 1, ${SQLMAP_BUDGET}s per target) =="
sqlmap_target() {  # name, then sqlmap's own arguments
  local name=$1; shift
  local log="$OUT/sqlmap-$name.log" t0=$SECONDS
  timeout --signal=INT "$SQLMAP_BUDGET" sqlmap --batch --disable-coloring --flush-session \
    --output-dir "$WORK/sqlmap" --user-agent "$UA" --level 2 --risk 1 --time-sec 2 --timeout 10 --retries 1 --threads 1 \
    --dbms SQLite "$@" >"$log" 2>&1 || true
  if grep -qE "is vulnerable|identified the following injection point" "$log"; then
    echo "  $name: INJECTABLE ($((SECONDS - t0))s) — see $log"
    grep -E "^Parameter:|Type:|Title:" "$log" | sed 's/^/    /'
    failed=1
  elif grep -qE "all tested parameters do not appear to be injectable|does not seem to be injectable" "$log"; then
    echo "  $name: nothing injectable ($((SECONDS - t0))s)"
  else
    echo "  $name: sqlmap did not finish its tests ($((SECONDS - t0))s) — see $log"
    tail -5 "$log" | sed 's/^/    /'
    failed=1
  fi
}
AUTH="Authorization: Bearer $TOKEN"
# The scan must reach the pages it means, not the login page: check the credentials first.
expect_200() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -A "$UA" "$@")
  [ "$code" = 200 ] || { echo "${*: -1} answers $code to the scan's credentials" >&2; exit 1; }
}
expect_200 -b "session=$SESSION" "$BASE/customers"
expect_200 -H "$AUTH" "$BASE/api/v1/customers"
# A wrong password keeps sqlmap on the login page, refused with 401 (an injection that logged in would
# answer 302).
sqlmap_target login -u "$BASE/login" --data "email=agent%40demo.local&password=wrong&csrf_token=x" \
  -p "email,password" --csrf-token csrf_token --csrf-url "$BASE/login" --ignore-code 401
sqlmap_target customer-search -u "$BASE/customers?q=garcia&stage=active&segment=Particular&owner=1" \
  -p "q,stage,segment,owner" --cookie "session=$SESSION"
sqlmap_target api-customers -u "$BASE/api/v1/customers?q=garcia&stage=active&segment=Particular&owner_id=1" \
  -p "q,stage,segment,owner_id" -H "$AUTH"
sqlmap_target api-customer-id -u "$BASE/api/v1/customers/5*" -H "$AUTH"
sqlmap_target api-compensations -u "$BASE/api/v1/compensations?status=proposed&tier=standard&from=2026-01-01" \
  -p "status,tier,from" -H "$AUTH"
sqlmap_target api-create-customer -u "$BASE/api/v1/customers" -H "$AUTH" \
  --data '{"name": "Prueba Sqlmap*", "email": "sqlmap@example.es*", "segment": "Particular*"}'
echo "sqlmap: $((SECONDS - started))s"

echo "== wapiti (logged in as admin, 127.0.0.1 only, ${WAPITI_BUDGET}s) =="
t0=$SECONDS
# Excluded: /logout (ends the scan's session), the scan's own account (/account and
# /language: a new password or language mid-scan; /admin/users/<its id>: a role or active
# flag turned off would leave the rest of the scan logged out) — every other form, destructive ones included, is
# attacked: the database is a throwaway copy.
# Not run: ssrf (it calls an endpoint on the internet), nikto/buster/brute_login_form (word lists).
# Debian's wapiti 3.0.4 runs through a shim that (1) compiles -x patterns on Python 3.11 (its
# own fails: "global flags not at the start"), (2) refuses every request off the loopback (its
# wapp and nikto modules download databases from the internet when loaded, even unused), and
# (3) answers "write the report" when the time budget interrupts it (it would ask on stdin).
ADMIN_ID=$(curl -s -A "$UA" -H "$AUTH" "$BASE/api/v1/account" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
timeout --signal=INT --kill-after=60 "$WAPITI_BUDGET" /usr/bin/python3 - -u "$BASE/" --scope folder \
  -m "sql,blindsql,xss,permanentxss,exec,file,redirect,crlf,csrf,http_headers,cookieflags,csp,methods" \
  -H "Cookie: session=$SESSION" -A "$UA" -x "$BASE/logout" -x "$BASE/account" -x "$BASE/language" \
  -x "$BASE/admin/users/$ADMIN_ID" -x "$BASE/admin/users/$ADMIN_ID/*" \
  --max-scan-time 120 --max-attack-time 30 --max-links-per-page 40 --max-files-per-dir 60 \
  -d 4 -t 10 --flush-session --store-session "$WORK/wapiti" --no-bugreport \
  -f json -o "$OUT/wapiti.json" >"$OUT/wapiti.log" 2>&1 <<'PY' || true
import builtins
import re
import sys
from urllib.parse import urlsplit

import wapitiCore.net.crawler as crawler


def wildcard_translate(pattern):
    return re.compile("(?ms)" + "".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")


def loopback_only(send, position):
    def guarded(self, *args, **kwargs):
        url = args[position].url
        if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise IOError(f"refused, not on the loopback: {url}")
        return send(self, *args, **kwargs)
    return guarded


crawler.wildcard_translate = wildcard_translate
for name, position in (("get", 0), ("post", 0), ("request", 1)):
    setattr(crawler.Crawler, name, loopback_only(getattr(crawler.Crawler, name), position))
builtins.input = lambda prompt="": "r"  # interrupted by the time budget: stop and write the report
from wapitiCore.main.wapiti import wapiti_main  # noqa: E402

sys.argv[0] = "wapiti"
sys.exit(wapiti_main())
PY
.venv/bin/python - "$OUT/wapiti.json" <<'PY' || failed=1
import json
import sys

try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError) as exc:
    sys.exit(f"  wapiti wrote no report ({exc}): see test-results/security/wapiti.log")
high = 0
for section in ("vulnerabilities", "anomalies", "additionals"):
    for category, findings in sorted(report.get(section, {}).items()):
        if not findings:
            continue
        levels = [int(f.get("level", 0) or 0) for f in findings]
        print(f"  {section}: {category}: {len(findings)} (highest level {max(levels)})")
        for f in findings[:3]:
            print(f"      {f.get('method')} {f.get('path')} {f.get('parameter') or ''}: {f.get('info', '')[:140]}")
        high += sum(level >= 3 for level in levels)
print(f"  high or critical findings: {high}")
sys.exit(1 if high else 0)
PY
echo "wapiti: $((SECONDS - t0))s"

echo "== schemathesis (every operation, ${SCHEMATHESIS_BUDGET}s) =="
t0=$SECONDS
CHECKS=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance
ROOT=$PWD
ST=("$ROOT/.venv/bin/schemathesis" run "$BASE/api/v1/openapi.json" -H "$AUTH" -c "$CHECKS" --no-color
    --phases examples,coverage,fuzzing --workers 1 --generation-database none --request-timeout 30
    --report junit --report-dir "$ROOT/$OUT")
mkdir -p "$WORK/schemathesis"  # its working directory: it leaves a .schemathesis/ cache there
# The two operations that can lock the scan's own admin out (revoking its token, demoting or
# deactivating itself) run last, so they cannot turn the rest of the run into 401/403s.
LOCKOUT='^/api/v1/(account/tokens/\{token_id\}/revoke|users/\{user_id\})$'
(cd "$WORK/schemathesis" && "${ST[@]}" --max-time "$SCHEMATHESIS_BUDGET" --exclude-path-regex "$LOCKOUT" \
  --report-junit-path "$ROOT/$OUT/schemathesis.xml") >"$OUT/schemathesis.log" 2>&1 || failed=1
(cd "$WORK/schemathesis" && "${ST[@]}" --max-time 60 --include-path-regex "$LOCKOUT" \
  --report-junit-path "$ROOT/$OUT/schemathesis-lockout.xml") >"$OUT/schemathesis-lockout.log" 2>&1 || failed=1
for log in "$OUT/schemathesis.log" "$OUT/schemathesis-lockout.log"; do
  sed -n '/^Failures:/,/^Warnings:/p;/^Test cases:/,$p' "$log" | sed 's/^/  /'
done
echo "schemathesis: $((SECONDS - t0))s"

echo "== security checks: $((SECONDS - started))s in all; reports in $OUT =="
if [ "$failed" != 0 ]; then
  echo "SECURITY CHECKS FAILED" >&2
  exit 1
fi
echo "no injectable parameter, no high-severity finding, no server error, no answer outside its schema"
