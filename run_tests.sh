#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs ctest (C++) and pytest (Python).
set -euo pipefail
cd "$(dirname "$0")"

./scripts/install_test_deps.sh

# C++: the core library, GoogleTest suites and benchmarks.
cmake -S . -B build/ctest -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAOS_BUILD_TESTS=ON -DTAOS_BUILD_BENCHMARKS=ON
cmake --build build/ctest -j 2
ctest --test-dir build/ctest --output-on-failure -j 2

# Python: the installed package with its extension, then pytest (its exit code 5,
# no tests collected, fails the run like any other). pytest runs from tests/ so
# that the source folder taos/ does not shadow the installed package.
python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation ".[test]"
cd tests && python3 -m pytest
