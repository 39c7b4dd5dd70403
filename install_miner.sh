#!/usr/bin/env bash
# Installs a τaos miner (SPEC §14): the Python package WITHOUT the C++ simulator (no compiler
# needed), with the chain extra (bittensor) and the example agents' extra (scikit-learn), then
# copies the example agents to ~/.taos/agents (or -d DIR), where run_miner.sh looks for them.
# Idempotent: an agent file that is already there is kept (your edits survive), a new one is added.
#   -d agent folder (~/.taos/agents)      PYTHON=... picks the interpreter (python3)
# Runs from any folder; a relative -d is taken from the current folder.
set -euo pipefail
agents_dir=~/.taos/agents
while getopts "d:" opt; do
  case $opt in
    d) agents_dir=$OPTARG ;;
    *) echo "usage: $0 [-d agent folder]" >&2; exit 2 ;;
  esac
done
case $agents_dir in /*) ;; *) agents_dir=$PWD/$agents_dir ;; esac
cd "$(dirname "$0")"
python=${PYTHON:-python3}
"$python" -m pip install --quiet --disable-pip-version-check "scikit-build-core>=0.10" "pybind11>=3.0"
TAOS_NO_SIMULATOR=1 "$python" -m pip install --quiet --disable-pip-version-check --no-build-isolation ".[chain,agents]"
mkdir -p "$agents_dir"
for file in agents/*.py; do
  name=$(basename "$file")
  if [ ! -e "$agents_dir/$name" ]; then
    cp "$file" "$agents_dir/$name"
    echo "added $agents_dir/$name"
  elif ! cmp -s "$file" "$agents_dir/$name"; then
    echo "kept $agents_dir/$name (it differs from agents/$name: yours is left as it is)"
  fi
done
# The check imports the installed package: not from the repository root's source folder taos/,
# which python -c would put first on sys.path.
"$python" -c 'import sys; sys.path[:1] = [p for p in sys.path[:1] if p]; import taos.miner, taos.agents'
echo "τaos miner installed; run ./run_miner.sh -h <hotkey> ..."
