#!/usr/bin/env bash
# `make security` drives Debian's sqlmap and wapiti against a local server; install them
# the way scripts/ensure-chromium.sh installs the browser. Schemathesis comes with '.[dev]'.
set -euo pipefail
missing=()
command -v sqlmap >/dev/null 2>&1 || missing+=(sqlmap)
command -v wapiti >/dev/null 2>&1 || missing+=(wapiti)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for the security checks…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "${missing[*]} missing and cannot be installed here: install Debian's packages ${missing[*]}" >&2
  exit 1
fi
command -v sqlmap >/dev/null && command -v wapiti >/dev/null
