#!/usr/bin/env bash
# Installs a τaos validator (SPEC §14): system packages (C++ compiler, GoogleTest), the build tools
# (scikit-build-core, pybind11, cmake, ninja from pip: no source builds of compilers) and the package
# with the C++ simulator and the chain extra (bittensor). Idempotent: skips what is there.
#   PYTHON=... picks the interpreter (python3). Runs from any folder.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
need_apt=()
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
[ -f /usr/include/gtest/gtest.h ] || need_apt+=(libgtest-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
python=${PYTHON:-python3}
"$python" -m pip install --quiet --disable-pip-version-check \
  "scikit-build-core>=0.10" "pybind11>=3.0" "cmake>=3.20" "ninja"
"$python" -m pip install --quiet --disable-pip-version-check --no-build-isolation ".[chain]"
# The check imports the installed package: not from the repository root's source folder taos/,
# which python -c would put first on sys.path (and which holds no built extension).
"$python" -c 'import sys; sys.path[:1] = [p for p in sys.path[:1] if p]; import taos.simulator, taos.validator'
echo "τaos validator installed; run ./run_validator.sh -w <coldkey> -h <hotkey> ..."
