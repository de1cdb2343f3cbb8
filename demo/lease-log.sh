#!/bin/sh
# The demo's second script (demo/demo.py runs a copy of it), one Kea does not wait for
# ("wait": false): the library queues each leases4_committed event, and Kea goes on at once
# while this runs alongside. A real one would log leases for legal reasons or update DNS; this
# one appends one line per committed lease to the file named by $DEMO_LEASE_LOG:
#
#     time  client MAC  address (none: a commit without a lease, e.g. a release)
printf '%s %s %s\n' "$(date +%H:%M:%S)" "${KEA_QUERY4_HWADDR:-?}" "${KEA_LEASES4_AT0_ADDRESS:-none}" \
    >>"$DEMO_LEASE_LOG"
