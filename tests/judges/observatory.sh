#!/usr/bin/env bash
# The MDN HTTP Observatory (npm @mdn/mdn-http-observatory), run offline against one host.
#
#   tests/judges/observatory.sh HOSTNAME IP CA_FILE MIN_SCORE
#
# Scans https://HOSTNAME (and http://HOSTNAME for the redirection test) with HOSTNAME resolved to IP for the scanner
# only (a private mount namespace with its own /etc/hosts, so the machine's resolver is untouched), trusting CA_FILE
# (PEM: the ACME root, or a self-signed certificate itself) besides the system's CAs. Prints the scanner's JSON result
# on stdout and a one-line summary on stderr.
#
# Exit status: 0 when the score is at least MIN_SCORE; 1 when the scan ran and scored lower; 2 on a usage error;
# 3 when the scan could not run (no scanner, no node, no answer, an error from the scanner, output without a score).
#
# The scanner is installed into .cache/observatory on the first run (npm install --ignore-scripts: its install scripts
# download the HSTS preload list and the TLD list), with an empty HSTS preload list, so no scan ever reads a list from
# the internet. Later runs use that copy and need no network.
#
# Environment: OBSERVATORY_VERSION (default 1.4.8), OBSERVATORY_DIR (default <checkout>/.cache/observatory),
# OBSERVATORY_TIMEOUT (seconds, default 120).
set -euo pipefail

usage() {
  echo "usage: $0 HOSTNAME IP CA_FILE MIN_SCORE" >&2
  exit 2
}
cant_run() {
  echo "observatory: the scan could not run: $*" >&2
  exit 3
}

[ "$#" -eq 4 ] || usage
host=$1 ip=$2 ca=$3 min=$4
[[ $host =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || usage
[[ $ip =~ ^[0-9A-Fa-f:.]+$ ]] || usage
[[ $min =~ ^-?[0-9]+$ ]] || usage
[ -r "$ca" ] || cant_run "CA file $ca is not readable"
ca=$(cd "$(dirname "$ca")" && pwd)/$(basename "$ca")

root=$(cd "$(dirname "$0")/../.." && pwd)
version=${OBSERVATORY_VERSION:-1.4.8}
dir=${OBSERVATORY_DIR:-$root/.cache/observatory}
timeout=${OBSERVATORY_TIMEOUT:-120}
pkg=$dir/node_modules/@mdn/mdn-http-observatory

command -v node >/dev/null 2>&1 || cant_run "node is not installed (Debian: apt-get install nodejs npm)"

installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch (e) { console.log("") }' "$pkg/package.json"
}

# Install (or replace a different version) only when needed: a second run is offline.
if [ ! -f "$pkg/src/scan.js" ] || [ "$(installed_version)" != "$version" ]; then
  command -v npm >/dev/null 2>&1 || cant_run "npm is not installed (Debian: apt-get install npm)"
  mkdir -p "$dir"
  echo "observatory: installing @mdn/mdn-http-observatory@$version into $dir" >&2
  npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
    "@mdn/mdn-http-observatory@$version" >&2 || cant_run "npm install failed"
  [ -f "$pkg/src/scan.js" ] || cant_run "npm installed no $pkg/src/scan.js"
fi
# An empty HSTS preload list: the scanner reads it on every scan (no site of ours is preloaded).
[ -s "$pkg/conf/hsts-preload.json" ] || echo '{}' >"$pkg/conf/hsts-preload.json"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -vwF "$host" /etc/hosts >"$work/hosts" || true
printf '%s %s\n' "$ip" "$host" >>"$work/hosts"

# The scanner runs in a mount namespace of its own where /etc/hosts maps HOSTNAME to IP (root: unshare -m; anyone
# else: a user namespace too, where that is allowed).
ns=(unshare -m)
[ "$(id -u)" = 0 ] || ns=(unshare -r -m)
# shellcheck disable=SC2016 # $1 and $@ belong to the inner sh
inner='mount --bind "$1" /etc/hosts && shift && exec "$@"'
set +e
(cd "$pkg" && NODE_EXTRA_CA_CERTS=$ca NODE_NO_WARNINGS=1 timeout "$timeout" "${ns[@]}" \
  sh -c "$inner" sh "$work/hosts" node src/scan.js "$host") >"$work/out.json" 2>"$work/err.txt"
rc=$?
set -e

cat "$work/out.json"
python3 - "$work/out.json" "$work/err.txt" "$rc" "$min" "$host" <<'PY'
import json
import sys

out, err, rc, minimum, host = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
try:
    with open(out, encoding="utf-8") as f:
        result = json.load(f)
except ValueError:
    result = {}
scan = result.get("scan") or {}
if rc != 0 or result.get("error") or not isinstance(scan.get("score"), int):
    with open(err, encoding="utf-8", errors="replace") as f:
        detail = f.read().strip()[-2000:]
    why = result.get("error") or ("scanner exit status %d" % rc)
    print("observatory: %s: the scan could not run: %s %s" % (host, why, detail), file=sys.stderr)
    sys.exit(3)
failed = sorted(name for name, test in (result.get("tests") or {}).items() if not test.get("pass"))
verdict = "ok" if scan["score"] >= minimum else "BELOW"
print("observatory: %s: grade %s, score %d (minimum %d: %s), %d/%d tests passed%s" % (
    host, scan.get("grade"), scan["score"], minimum, verdict, scan.get("testsPassed", 0),
    scan.get("testsQuantity", 0), (", failed: " + ", ".join(failed)) if failed else ""), file=sys.stderr)
sys.exit(0 if scan["score"] >= minimum else 1)
PY
