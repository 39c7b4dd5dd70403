#!/usr/bin/env bash
# The main job: install τaos (with the C++ engine) and run the offline demo market with the example
# agents (taos local). Options are passed on, e.g. ./run_demo.sh --duration 2h --books 4.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install_test_deps.sh
python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation .
taos local "$@"   # the installed command; it writes runs/<config-hash>-<seed>/ here
