#!/usr/bin/env bash
# Set up everything the tests need and run the whole suite (slow and browser tests too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m ruff check pasta_core plugins tests contrib benchmarks scripts
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
