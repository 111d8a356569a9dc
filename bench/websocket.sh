#!/usr/bin/env bash
# WebSockets with the default settings, for a long run: the Socket.IO fixture (tests/apps/socketio) on one eventlet
# worker behind nginx, deployed by site.yml on one host with the collection's defaults (no gunicorn_max_requests, no
# drain or stop timeout of its own). tests/load/wsload.py runs inside the host for BENCH_WS_SECONDS (300 by default):
# 4 clients on the WebSocket transport echo every 0.5 s, a prober opens a new connection every 0.5 s, and a GET of
# /health every 0.5 s is timed. A stall is an echo or a GET that took more than 1 s; the target is none.
# Then the same load during a deploy.yml of release 2.0.0: how long the old slot kept its connections with the default
# app_drain_timeout (60) and app_stop_timeout (30), and the reconnect gaps.
# Writes bench/results/websocket.json. BENCH_VENV: the controller venv (default .venv).
source "$(dirname "$0")/lib.sh"
host=flaskops-bench-ws
domain=chat.flaskops.test
seconds=${BENCH_WS_SECONDS:-300}
venv=${BENCH_VENV:-$BENCH_ROOT/.venv}
work=$BENCH_ROOT/.cache/bench/websocket
inv=$work/hosts.yml
mkdir -p "$work"
trap 'bench_host_down $host' EXIT

echo "== deploy the Socket.IO fixture with site.yml"
bench_host_up "$host" "$domain"
bench_inventory "$inv" "$host"
cat >"$(dirname "$inv")/group_vars/all.yml" <<EOF
app_name: chat
app_domains: [$domain]
app_source_type: path
app_source_path: $BENCH_ROOT/tests/apps/socketio
app_wsgi: "wsgi:app"
app_secrets:
  FLASK_SECRET_KEY: "bench-only-$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
certbot_tls_mode: none
gunicorn_worker_class: eventlet
gunicorn_socketio: true
EOF
"$venv/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/site.yml" >"$work/site.log" 2>&1 || { tail -40 "$work/site.log"; exit 1; }
rm -rf "$work/socketio-2.0.0" && cp -a "$BENCH_ROOT/tests/apps/socketio" "$work/socketio-2.0.0"
echo 2.0.0 >"$work/socketio-2.0.0/VERSION"

docker exec "$host" bash -c 'apt-get install -y -qq python3-venv >/dev/null && python3 -m venv /opt/flaskops-wstest &&
  /opt/flaskops-wstest/bin/pip install -q --disable-pip-version-check websockets==17.4'
docker cp "$BENCH_ROOT/tests/load/wsload.py" "$host:/usr/local/bin/flaskops-wsload"

wsload() { # name max-seconds
  docker exec "$host" rm -f /run/bench-ws.stop "/run/bench-ws-$1.json"
  docker exec -d "$host" /opt/flaskops-wstest/bin/python /usr/local/bin/flaskops-wsload --url "ws://$domain/socket.io/" \
    --clients 4 --interval 0.5 --max-seconds "$2" --stop-file /run/bench-ws.stop --http-url "http://$domain/health" \
    --out "/run/bench-ws-$1.json"
}
wsload_wait() { # name
  docker exec "$host" bash -c "for _ in \$(seq 1 600); do [ -s /run/bench-ws-$1.json ] && break; sleep 1; done
    cat /run/bench-ws-$1.json"
}
docker exec "$host" bash -c "grep -q ' $domain' /etc/hosts || echo '127.0.0.1 $domain' >>/etc/hosts"

echo "== $seconds s of WebSocket and HTTP load, default settings"
wsload steady "$seconds"
steady=$(wsload_wait steady)
echo "$steady"

echo "== deploy.yml of release 2.0.0 under the same load"
wsload deploy 1800
sleep 3
start=$(date +%s.%N)
rc=0
"$venv/bin/ansible-playbook" -i "$inv" "$BENCH_ROOT/playbooks/deploy.yml" -e "app_source_path=$work/socketio-2.0.0" \
  >"$work/deploy.log" 2>&1 || rc=$?
deploy_seconds=$(python3 -c "import time,sys; print('%.1f' % (time.time() - float(sys.argv[1])))" "$start")
sleep 5
docker exec "$host" touch /run/bench-ws.stop
deploy=$(wsload_wait deploy)
echo "$deploy"

python3 - "$BENCH_OUT/websocket.json" "$seconds" "$rc" "$deploy_seconds" "$steady" "$deploy" <<'PY'
import json, sys
out, seconds, rc, deploy_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
steady, deploy = json.loads(sys.argv[5]), json.loads(sys.argv[6])
new_first = deploy["versions"]["probe"].get("2.0.0", {}).get("first")
held = [round(d - new_first, 1) for d in deploy["disconnects"]] if new_first is not None else []
data = {
    "steady": {"seconds": seconds, **{k: steady[k] for k in ("handshakes", "failed_handshakes", "echoes", "failed_echoes",
               "max_echo_seconds", "echo_stalls", "http", "disconnects", "errors")}},
    "deploy": {"playbook_rc": rc, "playbook_seconds": deploy_seconds,
               **{k: deploy[k] for k in ("handshakes", "failed_handshakes", "echoes", "failed_echoes", "max_echo_seconds",
                                         "http", "reconnect_gaps", "max_reconnect_gap", "errors")},
               "old_slot_kept_connections_seconds": held},
}
json.dump(data, open(out, "w"), indent=2)
s, d = data["steady"], data["deploy"]
print(f"steady {seconds} s: {s['handshakes']} handshakes ({s['failed_handshakes']} failed), {s['echoes']} echoes "
      f"({s['failed_echoes']} failed, slowest {s['max_echo_seconds']} s, {s['echo_stalls']} over 1 s), "
      f"{s['http']['requests']} GETs ({s['http']['failed']} failed, slowest {s['http']['max_seconds']} s, "
      f"{s['http']['stalls']} over 1 s)")
print(f"deploy rc={rc} in {deploy_seconds} s: {d['handshakes']} handshakes ({d['failed_handshakes']} failed), "
      f"old slot kept its connections {held} s after new ones reached 2.0.0, reconnect gaps {d['reconnect_gaps']} s")
ok = (s["failed_handshakes"] == 0 and s["failed_echoes"] == 0 and s["echo_stalls"] == 0 and s["http"]["stalls"] == 0
      and s["http"]["failed"] == 0 and rc == 0 and d["failed_handshakes"] == 0 and d["http"]["failed"] == 0)
sys.exit(0 if ok else 1)
PY
