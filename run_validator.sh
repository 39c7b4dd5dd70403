#!/usr/bin/env bash
# Runs a τaos validator (SPEC §14). Flags:
#   -e network (finney | test | ws://URL | local:FILE)   -p wallet path   -w coldkey (taos)
#   -h hotkey (validator)   -u netuid (79)   -l log level (INFO)   -d PagerDuty routing key
#   -o Prometheus port (9001)   -t miner query timeout (3.0)
#   -c simulation config (the repository's configs/default.toml)
#   -s keep the running simulation (resume from the saved state; the default)
#   -f start fresh (the old state folder is kept aside as STATE.<UTC time>)
# PYTHON=... picks the interpreter (python3). Further options after the flags go to
# python -m taos.validator as they are, e.g.
#   ./run_validator.sh -c configs/default.toml -- --scoring.preset ptn --rules.max-open 100
# Runs from any folder; relative paths (-c, -p, --state ...) are taken from the current folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
network=finney; wallet_path=~/.bittensor/wallets; coldkey=taos; hotkey=validator; netuid=79
log_level=INFO; pagerduty=""; prom=9001; timeout=3.0; config=$here/configs/default.toml; fresh=""
while getopts "e:p:w:h:u:l:d:o:t:c:sf" opt; do
  case $opt in
    e) network=$OPTARG ;; p) wallet_path=$OPTARG ;; w) coldkey=$OPTARG ;; h) hotkey=$OPTARG ;;
    u) netuid=$OPTARG ;; l) log_level=$OPTARG ;; d) pagerduty=$OPTARG ;; o) prom=$OPTARG ;;
    t) timeout=$OPTARG ;; c) config=$OPTARG ;; s) fresh="" ;; f) fresh="--fresh" ;;
    *) echo "usage: $0 [-e network] [-p wallet path] [-w coldkey] [-h hotkey] [-u netuid] [-l level] [-d key] [-o port] [-t timeout] [-c config] [-s|-f] [-- flags of python -m taos.validator]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
args=(--chain "$network" --wallet.path "$wallet_path" --wallet.name "$coldkey" --wallet.hotkey "$hotkey"
      --netuid "$netuid" --log-level "$log_level" --prometheus-port "$prom" --timeout "$timeout" --config "$config")
[ -n "$pagerduty" ] && args+=(--pagerduty-key "$pagerduty")
[ -n "$fresh" ] && args+=("$fresh")
# The module runs with the current folder off sys.path (python -m would put it first: run from the
# repository root, the source folder taos/, which holds no built extension, would shadow the
# installed package). The current folder stays where it is, so relative paths mean what they say.
run_module() {  # run_module MODULE ARGS...: python -m MODULE ARGS..., without the current folder on sys.path
  exec "$python" -c 'import runpy, sys
if sys.path and sys.path[0] == "":  # the current folder (python -c puts it there)
    del sys.path[0]
runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)' "$@"
}
run_module taos.validator "${args[@]}" "$@"
