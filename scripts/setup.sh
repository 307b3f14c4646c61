#!/usr/bin/env bash
# Create .venv (if missing) and install PASTA into it, saying what each step does.
#   scripts/setup.sh               -> the core and the embedded defaults (no torch)
#   scripts/setup.sh test          -> every backend and the test tools, plus Debian's Chromium
#   scripts/setup.sh train,web     -> the core and the named extras (pyproject.toml)
# Settings (environment):
#   PASTA_TORCH=cpu        install torch's CPU build first (no CUDA libraries; for machines
#                          without an NVIDIA GPU), from PASTA_TORCH_INDEX
#   PASTA_TORCH_INDEX      where the CPU build comes from: an index URL or a folder of wheels
#                          (default: PyTorch's CPU index)
#   PASTA_VENV             the virtual environment's folder (default: .venv)
#   PASTA_SETUP_DRY_RUN=1  print the commands instead of running them
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${PASTA_VENV:-.venv}
TORCH=${PASTA_TORCH:-default}
TORCH_INDEX=${PASTA_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
# The CPU builds PASTA_TORCH=cpu installs: torch and the torchvision built for it.
TORCH_CPU="torch==2.13.0+cpu"
TORCHVISION_CPU="torchvision==0.28.0+cpu"
DRY=${PASTA_SETUP_DRY_RUN:-0}
MODE=${1:-core}
START=$SECONDS

case "$TORCH" in
  default|cpu) ;;
  *) echo "setup: PASTA_TORCH must be 'cpu' or unset, not '$TORCH'" >&2; exit 2 ;;
esac
case "$MODE" in
  core) EXTRAS="" ;;
  test) EXTRAS="all,test,docs" ;;
  *[!a-z0-9,-]*) echo "setup: '$MODE' is not 'test' nor a list of extras like train,web" >&2; exit 2 ;;
  *) EXTRAS="$MODE" ;;
esac

step() { echo "==> [setup +$((SECONDS - START))s] $*"; }
run() {
  if [ "$DRY" = "1" ]; then echo "+ $*"; else "$@"; fi
}

# pip shows what it collects and installs; its progress bars only on a terminal (not in CI logs).
PIP_ARGS=()
[ -t 1 ] || PIP_ARGS+=(--progress-bar off)
pip_install() { run "$VENV/bin/python" -m pip install ${PIP_ARGS[@]+"${PIP_ARGS[@]}"} "$@"; }  # (bash 3.2: no empty "${a[@]}" under set -u)

# Does this install bring torch (and torchvision, which open_clip needs)?
NEEDS_TORCH=0; NEEDS_TORCHVISION=0
case ",$EXTRAS," in *,all,*|*,train,*|*,clip,*|*,sdxl,*|*,causal-lm,*|*,distill,*) NEEDS_TORCH=1 ;; esac
case ",$EXTRAS," in *,all,*|*,clip,*) NEEDS_TORCHVISION=1 ;; esac

if [ -x "$VENV/bin/python" ]; then
  step "using the virtual environment $VENV"
else
  step "creating the virtual environment $VENV ($PYTHON)"
  run "$PYTHON" -m venv "$VENV"
fi

if [ "$TORCH" = "cpu" ] && [ "$NEEDS_TORCH" = "1" ]; then
  CPU_PACKAGES=("$TORCH_CPU")
  [ "$NEEDS_TORCHVISION" = "1" ] && CPU_PACKAGES+=("$TORCHVISION_CPU")
  step "installing the CPU build of ${CPU_PACKAGES[*]} from $TORCH_INDEX (no CUDA libraries)"
  # --no-deps: only these come from the CPU index; their dependencies come with the next step.
  if [ -d "$TORCH_INDEX" ]; then WHERE=(--find-links "$TORCH_INDEX"); else WHERE=(--extra-index-url "$TORCH_INDEX"); fi
  if ! pip_install --no-deps --retries 1 "${WHERE[@]}" "${CPU_PACKAGES[@]}"; then
    echo "setup: the CPU build (${CPU_PACKAGES[*]}) could not be installed from $TORCH_INDEX; set PASTA_TORCH_INDEX" \
         "to an index or a folder of wheels that holds it, or leave PASTA_TORCH unset" >&2
    exit 1
  fi
elif [ "$NEEDS_TORCH" = "1" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  step "note: no NVIDIA GPU found; torch comes with its CUDA libraries (several GB)." \
       "PASTA_TORCH=cpu bash scripts/setup.sh ${1:-} installs the smaller CPU build"
fi

if [ -z "$EXTRAS" ]; then
  step "installing PASTA's core and the embedded defaults (small: numpy, pillow, pyarrow, ...)"
  pip_install -e .
else
  if [ "$MODE" = "test" ]; then
    # torch and torchvision are resolved together so that they match.
    step "installing PASTA with every backend and the test tools: [$EXTRAS] (the largest step:" \
         "torch, transformers, diffusers, ray, ...; several minutes)"
  else
    step "installing PASTA with the extras [$EXTRAS]"
  fi
  pip_install -e ".[$EXTRAS]"
fi

if [ "$MODE" = "test" ]; then
  step "installing the example third-party plugin (contrib/pasta-example-plugin), as its users would"
  pip_install -e contrib/pasta-example-plugin
  if [ -x /usr/bin/chromium ]; then
    step "Debian's Chromium is installed (/usr/bin/chromium), for the browser tests"
  else
    step "installing Debian's Chromium and ChromeDriver (apt-get), for the browser tests"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    run $SUDO apt-get update -qq
    run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  fi
fi

if [ "$DRY" != "1" ]; then
  if [ "$NEEDS_TORCH" = "1" ]; then
    "$VENV/bin/python" -c 'import torch; print("==> torch", torch.__version__, "(CUDA build)" if torch.version.cuda else "(CPU build)")'
  fi
  step "done: $VENV holds $(du -sh "$VENV" 2>/dev/null | cut -f1)"
fi
