#!/bin/sh
# azd prepackage hook (service api): ship poolkeeper's bytecode with its sources.
#
# Why: on Flex Consumption the app's files are mounted read-only, so Python cannot cache the bytecode it compiles and
# every cold start compiles poolkeeper's ~70 modules again (~0.1 s of the first event, bench/storm.py cold_imports).
# Compiled here into __pycache__/ with hash-checked .pyc files (PEP 552: valid whatever the files' times after
# packaging; a .pyc whose source differs is ignored and the source compiled, never run stale), the first event only
# loads them. The interpreter should be the app's Python (3.11, infra/main.bicep): another version's .pyc files are
# ignored, never wrong. Whether a remote (Oryx) build keeps the shipped __pycache__ is UNCONFIRMED by a public source.
#
# Usage: prepackage.sh [project root]; POOLKEEPER_BUILD_PYTHON picks the interpreter (default python3.11).
set -eu

root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
py=${POOLKEEPER_BUILD_PYTHON:-python3.11}
if ! command -v "$py" >/dev/null 2>&1; then
  echo "prepackage: $py not found; the package ships sources only (each cold start compiles them)" >&2
  exit 0
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "prepackage: $py is not Python 3.11; the app's interpreter will ignore these .pyc files" >&2
fi
cd "$root"
"$py" -m compileall -q -f --invalidation-mode checked-hash function_app.py handlers poolkeeper
