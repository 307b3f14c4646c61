#!/usr/bin/env bash
# Create .venv (if missing) and install PASTA into it.
#   scripts/setup.sh            -> the core and the embedded defaults
#   scripts/setup.sh test       -> every backend and the test tools, plus Debian's Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
if [ "${1:-}" = "test" ]; then
  # torch and torchvision are resolved together so that they match.
  $PIP install -q -e '.[all,test,docs]'
  # The example third-party plugin, installed the way its users would install it.
  $PIP install -q -e contrib/pasta-example-plugin
  if [ ! -x /usr/bin/chromium ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
else
  $PIP install -q -e .
fi
