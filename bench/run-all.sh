#!/usr/bin/env bash
# Run every benchmark; each prints its numbers and writes bench/results/<name>.json. release.sh needs the SSH image
# as well (scripts/test-hosts.sh image-ssh debian12; make bench builds it).
set -euo pipefail
cd "$(dirname "$0")"
./converge.sh
./rps.sh
./under-load.sh
./fleet.sh
./release.sh
./websocket.sh
