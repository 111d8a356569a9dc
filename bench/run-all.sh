#!/usr/bin/env bash
# Run every benchmark; each prints its numbers and writes bench/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")"
./converge.sh
./rps.sh
./under-load.sh
./fleet.sh
