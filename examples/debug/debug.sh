#!/bin/sh
# kea-hook-runscript example: print every variable of every call.
#
# Each call appends one block to DEBUG_LOG (default /tmp/kea-hook-runscript-debug.log, where the
# original hook's debug.sh wrote): a header line with the time, the hook point ($1) and the pid,
# then every variable the script got, sorted, one per line. A value that spans several lines
# (the KEA_*_DEBUG dumps) has its further lines indented by four spaces. Watch it with
#     tail -F /tmp/kea-hook-runscript-debug.log
# DEBUG_LOG=- prints to stdout instead: every line becomes a RUNSCRIPT_STDOUT line in Kea's log
# (at most 100 lines per call are logged; the rest is counted).
#
# Hook points: all of them (leave "hooks" out, or list them; "load" and "unload" work too).
set -u

log=${DEBUG_LOG:-/tmp/kea-hook-runscript-debug.log}
if [ "$log" != - ]; then
    exec >>"$log" || exit 1
    # Scripts Kea does not wait for may run at once: one block at a time.
    flock 1 2>/dev/null || true
fi

printf '==== %s %s (pid %s)\n' "$(date '+%Y-%m-%dT%H:%M:%S.%N%z')" "${1:-}" "$$"
# NUL-separated, so that values holding newlines (or anything else) stay whole; the variables
# the shell adds by itself (PWD, ...) are left out.
env -0 |
    LC_ALL=C sort -z |
    LC_ALL=C sed -z -e '/^\(PWD\|OLDPWD\|SHLVL\|_\)=/d' -e 's/\n/\n    /g' |
    tr '\0' '\n'
