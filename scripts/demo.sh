#!/usr/bin/env bash
# Set up and run one session on the embedded defaults with a simulated user.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pasta run --user sim --out pasta-output "$@"
