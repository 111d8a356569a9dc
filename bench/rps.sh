#!/usr/bin/env bash
# Requests per second on the example app (GET /version, no database), measured with wrk inside one systemd container
# deployed by site.yml, all in one run so the numbers compare:
#   nginx -> gunicorn   the collection's default stack (live slot, unix socket, default gunicorn settings)
#   gunicorn alone      the same release and gunicorn.conf.py on 127.0.0.1:8100
#   waitress alone      the same release, waitress-serve with 4 threads on 127.0.0.1:8300
#   uWSGI alone         the same release's venv, Debian's uwsgi-core with the uwsgi role's defaults (2 processes x 2
#                       threads, access log) on 127.0.0.1:8400
#   Flask dev server    the same release, `flask run` (threaded) on 127.0.0.1:8200
# Bounded: BENCH_ROUNDS (default 2) rounds over the five targets; in each, a target gets a 2 s warm-up and
# BENCH_SECONDS (default 10) of wrk -t2 -c16. The mean of the rounds is reported, with each round's value.
# Writes bench/results/rps.json and prints a table.
source "$(dirname "$0")/lib.sh"
host=flaskops-bench-rps
domain=hello.flaskops.test
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-2}
inv=$BENCH_ROOT/.cache/bench/rps/hosts.yml
mkdir -p "$(dirname "$inv")"
trap 'bench_host_down $host' EXIT

echo "== deploy the example app with site.yml (gunicorn, defaults)"
bench_host_up "$host" "$domain"
bench_inventory "$inv" "$host"
read -r converge_s _ _ < <(bench_play "$inv" site.yml)
echo "site.yml: ${converge_s}s"

echo "== install wrk and uWSGI (Debian packages) and start the servers to compare"
docker exec "$host" bash -ec 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk uwsgi-core \
  uwsgi-plugin-python3 >/dev/null'
docker exec "$host" bash -ec '
  rel=$(python3 -c "import json; s = json.load(open(\"/etc/hello/slots/state.json\")); print(s[\"slots\"][s[\"active\"]][\"release_dir\"])")
  run() { unit=$1; shift; systemd-run --quiet --unit="$unit" --uid=hello --gid=hello -p EnvironmentFile=/etc/hello/env \
            -p WorkingDirectory="$rel" -E PYTHONDONTWRITEBYTECODE=1 "$@"; }
  run bench-gunicorn "$rel/.venv/bin/gunicorn" --config /etc/hello/gunicorn.conf.py --bind 127.0.0.1:8100
  run bench-waitress "$rel/.venv/bin/waitress-serve" --listen 127.0.0.1:8300 --threads 4 wsgi:app
  run bench-flask "$rel/.venv/bin/flask" --app wsgi:app run --host 127.0.0.1 --port 8200 --no-reload --no-debugger
  # uWSGI with the defaults of roles/uwsgi (processes, threads, harakiri, max-requests, buffer size), on TCP.
  run bench-uwsgi /usr/bin/uwsgi-core --plugins python3 --strict --master --need-app --single-interpreter --lazy-apps \
    --processes 2 --threads 2 --enable-threads --thunder-lock --harakiri 30 --buffer-size 8192 \
    --http-socket 127.0.0.1:8400 --add-header "Connection: close" --module wsgi:app --virtualenv "$rel/.venv"
  for port in 8100 8200 8300 8400; do
    for _ in $(seq 1 50); do
      python3 -c "import socket, sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), 1)" "$port" 2>/dev/null && break
      sleep 0.2
    done
  done'

measure() { # name url
  local name=$1 url=$2 out
  docker exec "$host" wrk -t2 -c16 -d2s -H "Host: $domain" "$url" >/dev/null
  out=$(docker exec "$host" wrk -t2 -c16 -d"${seconds}s" --latency -H "Host: $domain" "$url")
  python3 - "$name" "$url" "$out" <<'PY'
import json, re, sys
name, url, out = sys.argv[1:4]
def num(pattern, default=0.0):
    m = re.search(pattern, out)
    return float(m.group(1)) if m else default
def ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
lat = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
print(json.dumps({"target": name, "url": url, "rps": num(r"Requests/sec:\s+([\d.]+)"),
                  "requests": int(num(r"(\d+) requests in")), "latency_avg_ms": round(ms(*lat.groups()), 2) if lat else None,
                  "latency_p99_ms": round(ms(*p99.groups()), 2) if p99 else None,
                  "non_2xx": int(num(r"Non-2xx or 3xx responses: (\d+)")), "socket_errors": errors}))
PY
}

echo "== ${rounds} round(s) of wrk -t2 -c16 -d${seconds}s on GET /version"
results=$(
  for round in $(seq 1 "$rounds"); do
    measure "nginx -> gunicorn (collection default)" "http://127.0.0.1:80/version"
    measure "gunicorn alone" "http://127.0.0.1:8100/version"
    measure "waitress alone (4 threads)" "http://127.0.0.1:8300/version"
    measure "uWSGI alone (2 processes x 2 threads)" "http://127.0.0.1:8400/version"
    measure "Flask development server" "http://127.0.0.1:8200/version"
  done
)
machine=$(docker exec "$host" bash -c '
  printf "%s|%s|%s|%s|%s" "$(nproc)" "$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ *//")" \
    "$(free -m | awk "/Mem:/ {print \$2}")" "$(uname -r)" "$(. /etc/os-release; echo "$PRETTY_NAME")"')
workers=$(docker exec "$host" grep -E '^workers' /etc/hello/gunicorn.conf.py | awk '{print $3}')
load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$BENCH_OUT/rps.json" "$seconds" "$machine" "$workers" "$load" "$results" <<'PY'
import json, sys
path, seconds, machine, workers, load, lines = sys.argv[1:7]
cpus, cpu, mem, kernel, os_name = machine.split("|")
runs = [json.loads(line) for line in lines.splitlines() if line.strip()]
results = []
for name in dict.fromkeys(r["target"] for r in runs):
    mine = [r for r in runs if r["target"] == name]
    mean = lambda key: round(sum(r[key] or 0 for r in mine) / len(mine), 2)
    results.append({"target": name, "url": mine[0]["url"], "rps": round(mean("rps")), "rps_rounds": [r["rps"] for r in mine],
                    "latency_avg_ms": mean("latency_avg_ms"), "latency_p99_ms": mean("latency_p99_ms"),
                    "requests": sum(r["requests"] for r in mine),
                    "non_2xx": sum(r["non_2xx"] for r in mine), "socket_errors": sum(r["socket_errors"] for r in mine)})
data = {
    "tool": "wrk -t2 -c16 -d%ss (after a 2 s warm-up), inside the container, loopback; mean of %d rounds"
            % (seconds, len(runs) // max(1, len(results))),
    "endpoint": "GET /version (Flask view, JSON, no database)",
    "machine": {"vcpus": int(cpus), "cpu": cpu, "memory_mib": int(mem), "kernel": kernel, "container_os": os_name,
                "host_load_avg_at_end": load},
    "gunicorn": {"workers": int(workers), "worker_class": "sync"},
    "results": results,
}
json.dump(data, open(path, "w"), indent=2)
print("%-42s %10s %16s %10s %10s %8s" % ("target", "req/s", "rounds", "avg ms", "p99 ms", "errors"))
for r in results:
    print("%-42s %10.0f %16s %10s %10s %8d" % (r["target"], r["rps"], "/".join("%.0f" % x for x in r["rps_rounds"]),
                                                r["latency_avg_ms"], r["latency_p99_ms"], r["non_2xx"] + r["socket_errors"]))
print("written to %s" % path)
PY
