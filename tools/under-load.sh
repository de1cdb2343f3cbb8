#!/bin/sh
# Runs a command on a starved machine, to show that the tests assert what happened, not how fast
# (a machine of this project's kind may start processes ten times slower than another):
#   tools/under-load.sh pinned CMD...     the command and all it starts share CPU 0
#   tools/under-load.sh contended CMD...  two CPU-bound processes compete for the whole run
# Exits with the command's status; the competitors end with it, whatever happens.
set -eu
mode="${1:-}"
[ $# -ge 2 ] || { echo "usage: $0 pinned|contended CMD..." >&2; exit 2; }
shift
case "$mode" in
pinned)
    exec taskset -c 0 "$@"
    ;;
contended)
    burners=""
    stop_burners() { [ -z "$burners" ] || kill $burners 2>/dev/null || true; }
    trap stop_burners EXIT
    trap 'exit 130' INT TERM
    for _ in 1 2; do
        sh -c 'while :; do :; done' &
        burners="$burners $!"
    done
    status=0
    "$@" || status=$?
    exit "$status"
    ;;
*)
    echo "$0: unknown mode '$mode' (pinned or contended)" >&2
    exit 2
    ;;
esac
