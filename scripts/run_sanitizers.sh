#!/usr/bin/env bash
# The C++ tests and a short engine benchmark under AddressSanitizer and
# UndefinedBehaviorSanitizer (any report fails the run). Needs what
# scripts/install_test_deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAOS_SANITIZE=address,undefined \
  -DTAOS_BUILD_TESTS=ON -DTAOS_BUILD_BENCHMARKS=ON
cmake --build build/sanitize -j 2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build/sanitize --output-on-failure -j 2
build/sanitize/benchmarks/bench_exchange --count 200000 --repeat 1
