#!/usr/bin/env bash
# The floors job: the backend tests with every declared floor installed (constraints/floors.txt),
# on Python 3.11 (the oldest supported). Finds a Python 3.11 (PATH, then pyenv) and runs tox.
#   scripts/floors.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PASTA_FLOORS_PYTHON:-}" ]; then
  for candidate in python3.11 "$(pyenv root 2>/dev/null)"/versions/3.11*/bin/python3.11; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
      PASTA_FLOORS_PYTHON=$(command -v "$candidate"); break
    fi
  done
fi
if [ -z "${PASTA_FLOORS_PYTHON:-}" ]; then
  echo "floors: no Python 3.11 found (set PASTA_FLOORS_PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
export PASTA_FLOORS_PYTHON
# -r: a fresh environment, so that a changed constraints file is always installed
exec .venv/bin/python -m tox -r -e floors -- "$@"
