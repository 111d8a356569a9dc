#!/usr/bin/env bash
# Build the execution environment (awx/execution-environment.yml) here, with no registry and no Galaxy, and run a
# playbook in it against a test host, the way AWX runs a job.
#
#   scripts/ee-check.sh                  base image, collection tarballs, EE image, then playbooks/harden.yml in it
#   scripts/ee-check.sh --build-only     stop after the EE image is built and checked
#   scripts/ee-check.sh --context-only   stage the collection tarballs and write the build context (.cache/ee/context)
#
# 1. Tools: ansible-builder and ansible-runner in a venv of their own (.cache/ansible-builder-venv, from PyPI, pinned).
# 2. Base image: images/ee-base (Debian 12, Python 3, pip, the package-manager wrapper ansible-builder calls) on top
#    of the debootstrap image scripts/test-hosts.sh imports, as flaskops/ee-base-debian12, rebuilt only when its
#    recipe changes. FLASKOPS_EE_BASE_IMAGE=<image> uses yours instead (e.g. that image pushed to your registry).
# 3. Collections: scripts/install-check.sh --tarballs-only writes this collection's tarball and packs its
#    dependencies from the `ansible` package of the controller venv into .cache/ee/collections; awx/requirements.yml
#    installs exactly those, offline.
# 4. `ansible-builder build --container-runtime docker` makes flaskops/ee:<collection version>. The image is checked:
#    ansible-core's version, the collections and their versions, every Python distribution pinned by
#    awx/ee-constraints.txt at that version, pywinrm importable.
# 5. A systemd test host with sshd (flaskops/debian12-systemd-ssh, scripts/test-hosts.sh image-ssh debian12) starts as
#    flaskops-ee-<pid>; ansible-runner runs playbooks/harden.yml (ufw, sshd hardening, fail2ban) inside the EE
#    (--process-isolation --process-isolation-executable docker --container-image), over SSH with the key in
#    env/ssh_key (held by ssh-agent in the EE, as AWX does with a machine credential), twice: the first run succeeds,
#    the second succeeds too (SSH still reachable through the firewall it enabled) and changes nothing.
#
# Environment:
#   VENV                    the controller venv with the `ansible` package (default: .venv of this checkout)
#   FLASKOPS_EE_BASE_IMAGE  base image to build on instead of the local flaskops/ee-base-debian12
#   FLASKOPS_EE_TAG         tag of the EE image (default: flaskops/ee:<version of galaxy.yml>)
#   FLASKOPS_EXTRA_CA_DIR   (default: /usr/local/share/ca-certificates) every *.crt below it is trusted in the base
#                           image, so that pip inside the build passes a TLS-intercepting proxy; empty for none
#   FLASKOPS_EE_KEEP        1 keeps the test host and the runner directory for a look afterwards
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
tools=$here/.cache/ansible-builder-venv
state=$here/.cache/ee
ca_dir=${FLASKOPS_EXTRA_CA_DIR-/usr/local/share/ca-certificates}
version=$(sed -n 's/^version:[[:space:]]*//p' "$here/galaxy.yml" | tr -d "\"' ")
tag=${FLASKOPS_EE_TAG:-flaskops/ee:$version}
base_tag=flaskops/ee-base-debian12:latest
builder_version=3.1.0
runner_version=2.4.2
mode=${1:-all}

log() { printf '[ee-check] %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
start=$(date +%s)

case "$mode" in all | --build-only | --context-only) ;; *) echo "usage: $0 [--build-only|--context-only]" >&2; exit 2 ;; esac

tools_venv() {
  if ! "$tools/bin/ansible-builder" --version 2>/dev/null | grep -qx "$builder_version" ||
    ! "$tools/bin/ansible-runner" --version 2>/dev/null | grep -qx "$runner_version"; then
    log "installing ansible-builder $builder_version and ansible-runner $runner_version into $tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q "ansible-builder==$builder_version" "ansible-runner==$runner_version"
  fi
}

# The recipe of the base image: its Dockerfile, its wrapper, the extra CAs and the image it starts from.
base_image() {
  local hash ctx from=flaskops/debian12-base:latest
  if [ -n "${FLASKOPS_EE_BASE_IMAGE:-}" ]; then
    docker image inspect "$FLASKOPS_EE_BASE_IMAGE" >/dev/null 2>&1 || docker pull "$FLASKOPS_EE_BASE_IMAGE"
    log "base image: $FLASKOPS_EE_BASE_IMAGE (FLASKOPS_EE_BASE_IMAGE)"
    return 0
  fi
  docker image inspect "$from" >/dev/null 2>&1 || "$here/scripts/test-hosts.sh" image debian12
  hash=$({
    cat "$here/images/ee-base/Dockerfile" "$here/images/ee-base/ee-pkg"
    docker image inspect -f '{{ .Id }}' "$from"
    if [ -n "$ca_dir" ] && [ -d "$ca_dir" ]; then find "$ca_dir" -name '*.crt' -type f | sort | xargs -r cat; fi
  } | sha256sum | cut -c1-12)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "org.flaskops.recipe" }}' "$base_tag" 2>/dev/null || true)" = "$hash" ]; then
    log "$base_tag is up to date (recipe $hash)"
    return 0
  fi
  ctx=$(mktemp -d)
  mkdir -p "$ctx/ca"
  if [ -n "$ca_dir" ] && [ -d "$ca_dir" ]; then find "$ca_dir" -name '*.crt' -type f -exec cp {} "$ctx/ca/" \;; fi
  cp "$here/images/ee-base/Dockerfile" "$here/images/ee-base/ee-pkg" "$ctx/"
  log "building $base_tag on $from (recipe $hash, $(find "$ctx/ca" -name '*.crt' | wc -l) extra CA certificates)"
  docker build -q --build-arg "BASE=$from" --label "org.flaskops.recipe=$hash" -t "$base_tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

stage_collections() {
  VENV=$venv "$here/scripts/install-check.sh" --tarballs-only "$state/collections"
}

build_ee() {
  local args=()
  [ -n "${FLASKOPS_EE_BASE_IMAGE:-}" ] && args+=(--build-arg "EE_BASE_IMAGE=$FLASKOPS_EE_BASE_IMAGE")
  log "ansible-builder build -t $tag (log: $state/build.log)"
  local t0=$SECONDS
  if ! "$tools/bin/ansible-builder" build -f "$here/awx/execution-environment.yml" --context "$state/context" \
    --container-runtime docker -t "$tag" -v 3 "${args[@]}" >"$state/build.log" 2>&1; then
    tail -60 "$state/build.log" >&2
    fail "ansible-builder build"
  fi
  log "built $tag in $((SECONDS - t0))s"
}

# What is in the image: the pinned ansible-core, exactly the collections of awx/requirements.yml at their versions,
# every Python distribution at the version awx/ee-constraints.txt pins, pywinrm.
check_image() {
  docker run --rm "$tag" /bin/sh -c \
    'ansible --version | head -1; python3 -m pip freeze --all 2>/dev/null; echo ---; ansible-galaxy collection list --format json 2>/dev/null; echo; echo ---; python3 -c "import winrm; print(\"winrm\", winrm.__file__)"' \
    >"$state/image.txt" 2>&1 || { cat "$state/image.txt" >&2; fail "inspecting $tag"; }
  "$venv/bin/python" - "$state/image.txt" "$here/awx/requirements.yml" "$here/awx/ee-constraints.txt" <<'PY' || fail "the image's content"
import json
import re
import sys

import yaml

report, requirements, constraints = sys.argv[1:]
text = open(report, encoding="utf-8").read()
head, freeze, rest = text.split("\n", 1)[0], text.split("\n", 1)[1].split("---\n")[0], text.split("---\n", 2)
errors = []
pins = {}
for line in open(constraints, encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if line:
        name, _, version = line.partition("==")
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
core = re.search(r"ansible \[core ([^\]]+)\]", head)
if not core or core.group(1) != pins.get("ansible-core"):
    errors.append("ansible-core: %s, pinned %s" % (head, pins.get("ansible-core")))
unpinned = []
for line in freeze.splitlines():
    name, _, version = line.partition("==")
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key not in pins:
        unpinned.append(line)
    elif pins[key] != version:
        errors.append("%s is %s, pinned %s" % (name, version, pins[key]))
if unpinned:
    errors.append("not pinned by awx/ee-constraints.txt: %s" % ", ".join(unpinned))
installed = {}
for path, found in json.loads(rest[1]).items():
    if path.startswith("/usr/share/ansible/collections"):
        installed.update({name: info["version"] for name, info in found.items()})
wanted = {}
for item in yaml.safe_load(open(requirements, encoding="utf-8"))["collections"]:
    name = re.sub(r"-(\d[^-]*)\.tar\.gz$", "", item["name"].rsplit("/", 1)[1]).replace("-", ".", 1)
    wanted[name] = str(item["version"])
if installed != wanted:
    errors.append("collections in the image %s, awx/requirements.yml %s" % (installed, wanted))
if "winrm " not in rest[2]:
    errors.append("pywinrm does not import: %s" % rest[2].strip())
for error in errors:
    print("[ee-check] " + error, file=sys.stderr)
if errors:
    sys.exit(1)
print("[ee-check] image: %s, %d Python distributions all pinned, collections %s" % (
    core.group(0), len(freeze.splitlines()), ", ".join("%s %s" % kv for kv in sorted(installed.items()))), file=sys.stderr)
PY
}

tools_venv
base_image
stage_collections
if [ "$mode" = --context-only ]; then
  rm -rf "$state/context"
  "$tools/bin/ansible-builder" create -f "$here/awx/execution-environment.yml" --context "$state/context" >/dev/null
  log "build context: $state/context"
  exit 0
fi
build_ee
check_image
if [ "$mode" = --build-only ]; then
  log "done in $(($(date +%s) - start))s"
  exit 0
fi

# The test host and the job's private data directory.
host=flaskops-ee-$$
pdd=$(mktemp -d "$state/runner.XXXXXX")
cleanup() {
  if [ "${FLASKOPS_EE_KEEP:-0}" = 1 ]; then
    log "kept: container $host, runner directory $pdd"
  else
    docker rm -f "$host" >/dev/null 2>&1 || true
    rm -rf "$pdd"
  fi
}
trap cleanup EXIT
"$here/scripts/test-hosts.sh" image-ssh debian12
image=${FLASKOPS_IMAGE_DEBIAN12_SSH:-flaskops/debian12-systemd-ssh:latest}
log "starting the test host $host ($image)"
docker run -d --name "$host" --hostname ee-host --cap-add SYS_ADMIN --cap-add NET_ADMIN \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns=host \
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$image" >/dev/null
mkdir -p "$pdd/env" "$pdd/inventory" "$pdd/project"
ssh-keygen -q -t ed25519 -N '' -C flaskops-ee -f "$pdd/key"
docker exec -i "$host" sh -c 'install -d -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys' <"$pdd/key.pub"
address=$(docker inspect -f '{{ range .NetworkSettings.Networks }}{{ .IPAddress }}{{ end }}' "$host")
for _ in $(seq 1 60); do
  docker exec "$host" systemctl is-active --quiet ssh.service 2>/dev/null && break
  sleep 1
done
docker exec "$host" systemctl is-active --quiet ssh.service || fail "sshd did not start on $host"

# As AWX lays it out: the machine credential's key in env/ssh_key, the inventory, the job's extra vars and settings.
mv "$pdd/key" "$pdd/env/ssh_key"
cat >"$pdd/inventory/hosts.yml" <<EOF
---
web:
  hosts:
    ee-host:
      ansible_host: $address
      ansible_user: root
  vars:
    # No nginx on this host: its fail2ban jails would have no log to read.
    fail2ban_nginx_jails: false
EOF
cat >"$pdd/env/envvars" <<'EOF'
---
ANSIBLE_HOST_KEY_CHECKING: "False"
ANSIBLE_PIPELINING: "True"
ANSIBLE_FORCE_COLOR: "0"
EOF
cat >"$pdd/project/harden.yml" <<'EOF'
---
- name: Harden, as an AWX job template runs it from the collection in the execution environment
  ansible.builtin.import_playbook: flaskops.deploy.harden
EOF

run_job() {
  local ident=$1 t0=$SECONDS
  log "ansible-runner: harden.yml in $tag against $host ($address), job $ident"
  "$tools/bin/ansible-runner" run "$pdd" --playbook harden.yml --ident "$ident" --quiet \
    --process-isolation --process-isolation-executable docker --container-image "$tag" \
    --container-option=--pull=never >/dev/null 2>&1 || true
  "$venv/bin/python" - "$pdd/artifacts/$ident" "$2" "$((SECONDS - t0))" <<'PY'
import glob
import json
import os
import sys

artifacts, expect_changed, seconds = sys.argv[1:]
rc = open(os.path.join(artifacts, "rc")).read().strip() if os.path.exists(os.path.join(artifacts, "rc")) else "?"
status = open(os.path.join(artifacts, "status")).read().strip() if os.path.exists(os.path.join(artifacts, "status")) else "?"
stats = {}
for path in glob.glob(os.path.join(artifacts, "job_events", "*.json")):
    event = json.load(open(path))
    if event.get("event") == "playbook_on_stats":
        stats = event["event_data"]
count = lambda key: sum((stats.get(key) or {}).values())
line = "job %s: rc=%s status=%s ok=%d changed=%d failures=%d unreachable=%d in %ss" % (
    os.path.basename(artifacts), rc, status, count("ok"), count("changed"), count("failures"), count("dark"), seconds)
print("[ee-check] " + line, file=sys.stderr)
bad = rc != "0" or status != "successful" or count("ok") < 10 or count("failures") or count("dark")
if expect_changed == "none" and count("changed"):
    bad = True
    print("[ee-check] the second run changed something", file=sys.stderr)
if bad:
    stdout = os.path.join(artifacts, "stdout")
    if os.path.exists(stdout):
        sys.stderr.write("".join(open(stdout, errors="replace").readlines()[-60:]))
    sys.exit(1)
PY
}

run_job first any || fail "the first run"
run_job second none || fail "the second run"
docker exec "$host" ufw status | grep -q 'Status: active' || fail "ufw is not active on $host"
log "ufw active, SSH reached through it; done in $(($(date +%s) - start))s"
