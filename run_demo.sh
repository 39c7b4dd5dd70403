#!/usr/bin/env bash
# The main job: install τaos (with the C++ engine) and run the market demo.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install_test_deps.sh
python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation .
cd "$(mktemp -d)" && python3 -m taos.demo "$@"  # outside the source folder
