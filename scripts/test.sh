#!/usr/bin/env bash
# Set up everything the tests need and run the whole suite (slow and browser tests too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m ruff check pasta_core pasta_cli plugins tests contrib benchmarks scripts
# Architecture contracts: the core imports no plugin, no import cycles (pyproject.toml).
.venv/bin/lint-imports --no-cache
# The core's tests on the base install, without any extra (its own tox environment).
.venv/bin/python -m tox -q -e core
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
# The floors job: every declared floor installed together (constraints/floors.txt) in its own
# tox environment, and the backend tests run there (PASTA_FLOORS=0 skips it).
if [ "${PASTA_FLOORS:-1}" != "0" ]; then
  bash scripts/floors.sh
fi
