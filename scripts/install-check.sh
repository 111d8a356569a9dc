#!/usr/bin/env bash
# Install the built collection the way a user does, with its declared dependencies and nothing else, and check that
# every playbook it ships parses there.
#
#   scripts/install-check.sh                 build, install into an empty path, syntax-check the playbooks
#   scripts/install-check.sh --install-only DIR
#                                            build and install into DIR (DIR/ansible_collections/...), no checks
#                                            (scripts/sanity.sh uses it for the tree ansible-test runs in)
#   scripts/install-check.sh --tarballs-only DIR
#                                            build this collection's tarball and pack its dependencies' tarballs into
#                                            DIR, no install (scripts/ee-check.sh bakes them into the execution
#                                            environment)
#
# 1. `ansible-galaxy collection build` writes this collection's tarball from the checkout (galaxy.yml's build_ignore
#    keeps the development tooling out).
# 2. Each collection galaxy.yml's `dependencies` names, and each of their own dependencies, is packed into a
#    tarball of its own from the copy the `ansible` package bundles: its files, its MANIFEST.json and a FILES.json
#    of the files it has (see below). Galaxy is never asked.
# 3. `ansible-galaxy collection install --offline -r requirements.yml` installs this collection into an empty path;
#    the requirements file lists only this collection's tarball and, as candidates for the resolver, the dependency
#    tarballs: a dependency that galaxy.yml does not declare, or declares with a range the bundled version does not
#    meet, fails the install.
# 4. `ansible-playbook --syntax-check` runs every playbook of the installed collection (flaskops.deploy.<name>) with
#    ANSIBLE_COLLECTIONS_PATH set to that path alone, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false (so the collections
#    of the `ansible` package are not found) and an empty configuration file. A syntax check loads the roles of each
#    play and resolves every module and action of their statically imported tasks: a collection that a role uses but
#    galaxy.yml does not declare fails it.
#
# Environment:
#   VENV    the controller virtualenv with ansible-core and the `ansible` package (default: .venv of this checkout)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
galaxy=$venv/bin/ansible-galaxy
playbook=$venv/bin/ansible-playbook
python=$venv/bin/python

log() { printf '[install-check] %s\n' "$*" >&2; }

install_only=
tarballs_only=
case "${1:-}" in
  --install-only | --tarballs-only)
    [ -n "${2:-}" ] || { log "$1 needs a directory"; exit 2; }
    dir=$(mkdir -p "$2" && cd "$2" && pwd)
    if [ "$1" = --install-only ]; then install_only=$dir; else tarballs_only=$dir; fi
    ;;
esac

if [ ! -x "$galaxy" ]; then
  log "ansible-galaxy not found in $venv: run 'make venv' first"
  exit 2
fi

start=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dist" "$work/deps"

# Nothing of the caller's configuration: no ansible.cfg, no collections or roles path.
: >"$work/ansible.cfg"
export ANSIBLE_CONFIG=$work/ansible.cfg
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_ROLES_PATH
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_NOCOLOR=1 ANSIBLE_HOME=$work/home

log "building the collection"
"$galaxy" collection build --force --output-path "$work/dist" "$here" >/dev/null
tarball=$(ls "$work/dist"/*.tar.gz)

# The dependencies that galaxy.yml declares, and where the ansible package keeps each.
bundled=$("$python" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__file__) if ansible_collections.__file__ else list(ansible_collections.__path__)[0])')
# With their own dependencies, as Galaxy would bring them (community.general 12 and later depend on
# community.library_inventory_filtering_v1), taken from the same bundle.
mapfile -t deps < <("$python" - "$here/galaxy.yml" "$bundled" <<'PY'
import json
import os
import sys
import yaml
with open(sys.argv[1], encoding="utf-8") as handle:
    todo = sorted(yaml.safe_load(handle).get("dependencies") or {})
seen = set()
while todo:
    name = todo.pop()
    if name in seen:
        continue
    seen.add(name)
    manifest = os.path.join(sys.argv[2], *name.split("."), "MANIFEST.json")
    if os.path.isfile(manifest):
        with open(manifest, encoding="utf-8") as handle:
            todo.extend(json.load(handle)["collection_info"].get("dependencies") or {})
for name in sorted(seen):
    print(name)
PY
)
requirements=$work/requirements.yml
{
  echo "---"
  echo "collections:"
  echo "  - name: $tarball"
  echo "    type: file"
} >"$requirements"
for dep in "${deps[@]}"; do
  src=$bundled/${dep%%.*}/${dep#*.}
  if [ ! -f "$src/MANIFEST.json" ]; then
    log "$dep is not bundled in $bundled: cannot install it offline"
    exit 1
  fi
  version=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' "$src/MANIFEST.json")
  dep_tarball=$work/deps/${dep%%.*}-${dep#*.}-$version.tar.gz
  "$python" - "$src" "$dep_tarball" <<'PY'
# The ansible package leaves some files of a collection out (CI configuration, some tests) but keeps the FILES.json
# that lists them, and ansible-galaxy refuses a tarball that lacks a listed file. So the tarball gets a FILES.json of
# the files that are there, and the MANIFEST.json the checksum of that FILES.json, as `ansible-galaxy collection
# build` would write them.
import hashlib
import io
import json
import os
import sys
import tarfile

src, out = sys.argv[1:]
entries = [{"name": ".", "ftype": "dir", "chksum_type": None, "chksum_sha256": None, "format": 1}]
paths = []
for top, dirs, files in os.walk(src):
    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
    rel_top = os.path.relpath(top, src)
    for name in dirs:
        rel = os.path.normpath(os.path.join(rel_top, name))
        entries.append({"name": rel, "ftype": "dir", "chksum_type": None, "chksum_sha256": None, "format": 1})
        paths.append((rel, True))
    for name in sorted(files):
        rel = os.path.normpath(os.path.join(rel_top, name))
        if rel in ("MANIFEST.json", "FILES.json") or name.endswith(".pyc"):
            continue
        with open(os.path.join(top, name), "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        entries.append({"name": rel, "ftype": "file", "chksum_type": "sha256", "chksum_sha256": digest, "format": 1})
        paths.append((rel, False))
files_json = json.dumps({"files": entries, "format": 1}, indent=4).encode()
with open(os.path.join(src, "MANIFEST.json"), encoding="utf-8") as handle:
    manifest = json.load(handle)
manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
manifest_json = json.dumps(manifest, indent=4).encode()


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


with tarfile.open(out, "w:gz") as tar:
    add_bytes(tar, "MANIFEST.json", manifest_json)
    add_bytes(tar, "FILES.json", files_json)
    for rel, is_dir in paths:
        tar.add(os.path.join(src, rel), arcname=rel, recursive=False)
PY
  printf '  - name: %s\n    type: file\n' "$dep_tarball" >>"$requirements"
  log "dependency $dep $version packed from the ansible package"
done

if [ -n "$tarballs_only" ]; then
  rm -f "$tarballs_only"/*.tar.gz
  cp "$tarball" "$work"/deps/*.tar.gz "$tarballs_only"/
  log "tarballs in $tarballs_only: $(find "$tarballs_only" -maxdepth 1 -name "*.tar.gz" -printf "%f\n" | sort | xargs)"
  exit 0
fi

target=${install_only:-$work/installed}
log "installing $(basename "$tarball") into an empty path, offline"
"$galaxy" collection install --offline --no-cache -p "$target" -r "$requirements" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  log "the install failed"
  exit 1
}
export ANSIBLE_COLLECTIONS_PATH=$target

# Exactly the declared dependencies (and their own) are there, and nothing else is visible to Ansible.
"$python" - "$target" "${deps[@]}" <<'PY'
import os
import sys
root = os.path.join(sys.argv[1], "ansible_collections")
found = sorted(f"{ns}.{name}" for ns in os.listdir(root) if os.path.isdir(os.path.join(root, ns))
               for name in os.listdir(os.path.join(root, ns)) if not name.endswith(".info"))
wanted = sorted(["flaskops.deploy"] + sys.argv[2:])
if found != wanted:
    sys.exit(f"installed {found}, expected {wanted}")
PY
visible=$("$galaxy" collection list --format json 2>/dev/null | "$python" -c '
import json, sys
# ansible._protomatter and the like are ansible-core internals, there in every install.
print(" ".join(sorted(n for path in json.load(sys.stdin).values() for n in path if not n.startswith("ansible._"))))')
expected=$(printf '%s\n' flaskops.deploy "${deps[@]}" | sort | xargs)
if [ "$visible" != "$expected" ]; then
  log "collections visible to Ansible: $visible (expected only: $expected)"
  exit 1
fi
log "installed and visible: $visible"

if [ -n "$install_only" ]; then
  exit 0
fi

status=0
cd "$work"
installed=$target/ansible_collections/flaskops/deploy
for path in "$installed"/playbooks/*.yml; do
  name=$(basename "$path" .yml)
  if "$playbook" --syntax-check -i localhost, "flaskops.deploy.$name" >"$work/syntax.log" 2>&1; then
    log "syntax-check flaskops.deploy.$name: ok"
  else
    cat "$work/syntax.log" >&2
    log "syntax-check flaskops.deploy.$name: FAILED"
    status=1
  fi
done
log "done in $(($(date +%s) - start))s"
exit $status
