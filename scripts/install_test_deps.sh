#!/usr/bin/env bash
# Installs what building and testing τaos needs. Idempotent: skips what is there.
#   apt: C++ compiler and GoogleTest, systemd and node (to check the service examples);  pip: build backend, pybind11, cmake, ninja, the runtime
#   dependencies (numpy, msgspec, aiohttp, prometheus-client), bittensor (the chain extra, used by
#   the miner tests), pyarrow, pandas, matplotlib and rich (base dependencies: run folders,
#   plots, the taos command), ray[default] (the ray extra: sweeps, sharded simulations),
#   scikit-learn (the agents extra: SimpleRegressorAgent) and the test tools.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need_apt=()
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
[ -f /usr/include/gtest/gtest.h ] || need_apt+=(libgtest-dev)
# the supervision examples of docs/validator.md are checked with systemd-analyze and node
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

python3 -m pip install --quiet --disable-pip-version-check \
  "scikit-build-core>=0.10" "pybind11>=3.0" "cmake>=3.20" "ninja" "numpy>=1.24" "msgspec>=0.19,<1" "aiohttp>=3.9,<4" "prometheus-client>=0.20,<1" "bittensor==11.3.0" \
  "pyarrow>=14" "pandas>=2.1" "matplotlib>=3.8" "rich>=13" "ray[default]>=2.9" "scikit-learn>=1.3" "pytest>=8" "hypothesis>=6.100" "ruff>=0.6" "mypy>=1.10"
