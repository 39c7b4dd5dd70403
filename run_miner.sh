#!/usr/bin/env bash
# Runs a τaos miner (SPEC §14): serves one agent class to the validators. Flags:
#   -e network (finney | test | ws://URL | local:FILE)   -p wallet path   -w coldkey (taos)
#   -h hotkey (miner)   -u netuid (79)   -a port (8091)   -g agent folder (~/.taos/agents)
#   -n agent class, defined in <folder>/<class>.py (SimpleRegressorAgent)
#   -m agent parameters, space separated: -m "min_quantity=0.1 max_quantity=1.0"   -l log level (INFO)
# Further options after the flags go to python -m taos.miner as they are, e.g.
#   ./run_miner.sh -n RandomMakerAgent -- --external-ip 203.0.113.7 --agent.timeout 2.0
# PYTHON=... picks the interpreter (python3). Runs from any folder; relative paths (-g, -p ...)
# are taken from the current folder.
set -euo pipefail
python=${PYTHON:-python3}
network=finney; wallet_path=~/.bittensor/wallets; coldkey=taos; hotkey=miner; netuid=79; port=8091
agent_path=~/.taos/agents; agent_name=SimpleRegressorAgent; params=""; log_level=INFO
usage="usage: $0 [-e network] [-p wallet path] [-w coldkey] [-h hotkey] [-u netuid] [-a port] [-g agent folder] [-n agent class] [-m \"k=v ...\"] [-l level] [-- flags of python -m taos.miner]"
while getopts "e:p:w:h:u:a:g:n:m:l:" opt; do
  case $opt in
    e) network=$OPTARG ;; p) wallet_path=$OPTARG ;; w) coldkey=$OPTARG ;; h) hotkey=$OPTARG ;;
    u) netuid=$OPTARG ;; a) port=$OPTARG ;; g) agent_path=$OPTARG ;; n) agent_name=$OPTARG ;;
    m) params=$OPTARG ;; l) log_level=$OPTARG ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
args=(--chain "$network" --wallet.path "$wallet_path" --wallet.name "$coldkey" --wallet.hotkey "$hotkey"
      --netuid "$netuid" --port "$port" --agent.path "$agent_path" --agent.name "$agent_name"
      --log-level "$log_level")
if [ -n "$params" ]; then
  read -r -a param_list <<< "$params"
  args+=(--agent.params "${param_list[@]}")
fi
# The module runs with the current folder off sys.path (python -m would put it first: run from the
# repository root, the source folder taos/, which holds no built extension, would shadow the
# installed package). The current folder stays where it is, so relative paths mean what they say.
run_module() {  # run_module MODULE ARGS...: python -m MODULE ARGS..., without the current folder on sys.path
  exec "$python" -c 'import runpy, sys
if sys.path and sys.path[0] == "":  # the current folder (python -c puts it there)
    del sys.path[0]
runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)' "$@"
}
run_module taos.miner "${args[@]}" "$@"
