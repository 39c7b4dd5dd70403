#!/usr/bin/env bash
# The main job: install τaos (with the C++ engine) and run the offline demo market with the example
# agents (taos local). Options are passed on, e.g. ./run_demo.sh --duration 2h --books 4.
# Installs only when needed: when taos is not installed, or the installed one is not the one built
# from these sources as they are now (scripts/install_stamp.py: a hash of the sources' content).
# Runs from any folder: the run folder runs/<config-hash>-<seed>/ is written in the current folder.
#   PYTHON=... picks the interpreter (python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
if reason=$("$python" "$here/scripts/install_stamp.py" check); then
  :
else
  echo "installing τaos (${reason:-no install recorded}): a few minutes the first time" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  if ! command -v g++ >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends g++
  fi
  "$python" -m pip install --quiet --disable-pip-version-check \
    "scikit-build-core>=0.10" "pybind11>=3.0" "cmake>=3.20" "ninja"
  (cd "$here" && "$python" -m pip install --quiet --disable-pip-version-check --no-build-isolation .)
  "$python" "$here/scripts/install_stamp.py" write
fi
# taos local from the installed package (python -m taos, without the current folder on sys.path:
# run from the repository root, its source folder taos/ would shadow the installed package)
exec "$python" -c 'import runpy, sys
if sys.path and sys.path[0] == "":  # the current folder (python -c puts it there)
    del sys.path[0]
runpy.run_module("taos", run_name="__main__", alter_sys=True)' local "$@"
