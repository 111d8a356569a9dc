#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: uv_install
short_description: Put one version of uv on the host, copied from the controller or installed from the package index
version_added: 1.0.0
description:
  - Reads the version of C(<path>/bin/uv); when it is O(version), nothing else runs (nothing is transferred or
    checksummed). Otherwise uv comes from one of two sources (O(source)).
  - "From the controller: the action plugin looks for a uv binary on the controller (O(controller_binary), or the
    binary of the C(uv) Python package of the controller's interpreter, then C(uv) on the controller's C(PATH)) and
    takes the first whose C(--version) is O(version) exactly. When the controller and the host are both Linux on the
    same machine architecture (the host's C(uname), read by the module), the binary is transferred into the remote
    temporary directory (compressed with gzip, which halves the transfer; the compressed copy is made once per
    controller, in C($XDG_CACHE_HOME/flaskops/uv) or C(~/.cache/flaskops/uv)), decompressed and checked against its
    SHA-256, run on the host (C(--version)) and only then moved into place at C(<path>/bin/uv) (the directories are
    created)."
  - From the package index, with pip (C(pip.conf), C(PIP_INDEX_URL)), so that a host behind a mirror gets uv from the
    mirror; C(uv==<version>) goes into a venv at O(path). The venv is made without pip (C(python -m venv --without-pip))
    and the pip wheel that the interpreter's ensurepip ships (Debian's C(python3-pip-whl), which C(python3-venv)
    brings, or C(ensurepip/_bundled)) runs the install into it. Without such a wheel, the venv is made with pip, which
    then installs uv.
  - An existing directory at O(path) that is neither a venv (no C(pyvenv.cfg)) nor holds only C(bin/uv) is refused by
    the index install.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the work run on the controller.
    support: full
    details:
      - The action plugin finds the controller's uv, reads its version and transfers it when the host needs it.
  check_mode:
    support: full
    details:
      - In check mode the module reads the installed version and returns whether it would install, from which
        RV(source), and the RV(commands) an index install would run, without transferring or running anything else.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description:
      - The directory that holds uv; the binary is C(<path>/bin/uv). An index install makes it a venv.
    type: path
    required: true
  version:
    description:
      - The version of uv to put in place, exactly.
    type: str
    required: true
  source:
    description:
      - V(auto) copies the controller's uv when it fits (the same version, Linux on the same architecture) and
        installs from the package index otherwise, or when the copied binary does not run on the host.
      - V(controller) fails instead of installing from the index.
      - V(index) always installs from the package index.
    type: str
    choices: [auto, controller, index]
    default: auto
  controller_binary:
    description:
      - A uv binary on the controller to copy; empty to search the controller (the C(uv) Python package of the
        interpreter that runs Ansible, then C(PATH)). Read by the action plugin only.
    type: path
  python:
    description:
      - The interpreter that makes the venv of an index install.
    type: path
    default: /usr/bin/python3
  pip_cache_dir:
    description:
      - pip's cache (C(PIP_CACHE_DIR)) for an index install.
    type: path
  controller:
    description:
      - Set by the action plugin, not by a task. What it found on the controller, as a dict with C(binary) (the path
        that fits, empty for none), C(reason), C(system) and C(machine).
    type: dict
  src:
    description:
      - Set by the action plugin, not by a task. The transferred binary on the host, to put in place.
    type: path
  checksum:
    description:
      - Set by the action plugin, not by a task. The SHA-256 of the binary on the controller, checked against O(src).
    type: str
  compressed:
    description:
      - Set by the action plugin, not by a task. Whether O(src) is the binary compressed with gzip (the action sends
        it so, which halves the transfer); O(checksum) is the binary's, checked on the decompressed bytes.
    type: bool
    default: false
  remove_src:
    description:
      - Set by the action plugin, not by a task. Remove O(src) once it is read, and its directory (the action's
        temporary directory) when that holds nothing else, so that the action needs no call of its own to clean up.
    type: bool
    default: false
  probe:
    description:
      - With V(false), the action plugin transfers the controller's binary in its first call to the host instead of
        asking the host first what it has (one call fewer where uv is not there yet, such as a host's first run). A host
        that has O(version) keeps its binary; a binary that does not run on the host fails the same way as after a probe
        (with O(source=auto), uv then comes from the index). When the play's facts name another system or machine than
        the controller's, or in check mode, the host is asked first all the same.
    type: bool
    default: true
notes:
  - The index install needs the package index and ensurepip's pip wheel (Debian's C(python3-venv)); a copy from the
    controller needs neither. A failure is returned as a failed task with pip's output, for the caller to stop on or
    to fall back to pip.
  - When the host has O(version) already, the task costs one module call whatever the source, and the binary is neither
    transferred nor checksummed.
seealso:
  - module: flaskops.deploy.venv_build
"""

EXAMPLES = r"""
- name: Put uv 0.13.9 at /opt/flaskops/uv/bin/uv, from the controller when it has that version
  flaskops.deploy.uv_install:
    path: /opt/flaskops/uv
    version: 0.13.9
    pip_cache_dir: /var/cache/flaskops/pip

- name: Copy a given uv binary from the controller, and fail when it cannot be used
  flaskops.deploy.uv_install:
    path: /opt/flaskops/uv
    version: 0.13.9
    source: controller
    controller_binary: ~/.local/bin/uv

- name: Install uv from the package index only (a mirror set in pip.conf)
  flaskops.deploy.uv_install:
    path: /opt/flaskops/uv
    version: 0.13.9
    source: index
"""

RETURN = r"""
version:
  description: The version of uv at C(<path>/bin/uv) after the run (in check mode, before it), empty when there is none.
  returned: always
  type: str
  sample: 0.13.9
previous_version:
  description: The version found before the run, empty when there was none.
  returned: always
  type: str
  sample: 0.12.0
binary:
  description: Path of the uv binary on the host.
  returned: always
  type: str
  sample: /opt/flaskops/uv/bin/uv
source:
  description:
    - Where the uv at C(<path>/bin/uv) comes from (in check mode, would come from) V(present) (the host had the version,
      nothing was done), V(controller) or V(index); V(none) when the task failed.
  returned: always
  type: str
  sample: controller
reason:
  description: Why that source was taken (and why the controller's uv was not, for an index install).
  returned: always
  type: str
  sample: uv 0.13.9 at /home/deploy/.venv/bin/uv on the controller
host_platform:
  description: The host's C(uname) system and machine.
  returned: always
  type: list
  elements: str
  sample: [Linux, x86_64]
commands:
  description: The commands run for an index install (in check mode, the commands a real run would run).
  returned: always
  type: list
  elements: list
  sample: [["/usr/bin/python3", "-m", "venv", "--without-pip", "/opt/flaskops/uv"]]
transfer:
  description:
    - True when the module asks the action plugin to transfer the controller's binary (an intermediate result that the
      action plugin replaces with the result of the copy).
  returned: always
  type: bool
  sample: false
src_removed:
  description:
    - Whether the transferred file and its temporary directory are gone (with O(remove_src), which the action plugin
      sets). When false, the action plugin removes the directory itself.
  returned: when the binary was transferred
  type: bool
  sample: true
"""

import glob
import gzip
import hashlib
import os
import zlib

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _uv_source as uv_source
from ansible_collections.flaskops.deploy.plugins.module_utils import _venv as venv

# Where ensurepip's pip wheel is: Debian's python3-pip-whl, or the interpreter's own bundle.
WHEEL_GLOBS = ("/usr/share/python-wheels/pip-*.whl", "{stdlib}/ensurepip/_bundled/pip-*.whl")


def find_pip_wheel(module, python):
    """The newest pip wheel ensurepip would install for this interpreter, or None."""
    rc, out, dummy = module.run_command([python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
    stdlib = out.strip() if rc == 0 else ""
    found = []
    for pattern in WHEEL_GLOBS:
        if "{stdlib}" in pattern and not stdlib:
            continue
        found.extend(glob.glob(pattern.format(stdlib=glob.escape(stdlib))))
    return venv.newest_wheel(found)


def failed(result):
    """The result of a failed run: uv was not put in place."""
    return dict(result, source="none")


def read_version(module, binary):
    if not os.access(binary, os.X_OK):
        return ""
    rc, out, dummy = module.run_command([binary, "--version"])
    return venv.parse_uv_version(out) if rc == 0 else ""


def holds_only_uv(path):
    """True when path holds nothing but bin/uv (a copy from the controller), which an index install may replace."""
    if set(os.listdir(path)) - {"bin"}:
        return False
    bindir = os.path.join(path, "bin")
    return not os.path.isdir(bindir) or not set(os.listdir(bindir)) - {"uv"}


def stage(src, staged, compressed):
    """Copy (or decompress) the transferred binary to ``staged``; return the SHA-256 of what was written."""
    digest = hashlib.sha256()
    opener = gzip.open if compressed else open
    with opener(src, "rb") as source, open(staged, "wb") as target:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            target.write(block)
    return digest.hexdigest()


def put_in_place(module, src, checksum, binary, version, result, compressed=False):
    """Check the transferred binary, run it, then move it to binary in one rename."""
    bindir = os.path.dirname(binary)
    os.makedirs(bindir, mode=0o755, exist_ok=True)
    staged = os.path.join(bindir, ".uv.flaskops-new")
    try:
        written = stage(src, staged, compressed)
    except (OSError, EOFError, zlib.error) as exc:
        if os.path.exists(staged):
            os.unlink(staged)
        module.fail_json(msg="the uv binary transferred to %s cannot be read: %s" % (src, exc), **failed(result))
    if checksum and written != checksum:
        os.unlink(staged)
        module.fail_json(msg="the uv binary transferred to %s does not have the controller's SHA-256" % src,
                         **failed(result))
    os.chmod(staged, 0o755)
    rc, out, err = module.run_command([staged, "--version"])
    got = venv.parse_uv_version(out) if rc == 0 else ""
    if got != version:
        os.unlink(staged)
        module.fail_json(msg="the controller's uv does not run on the host as uv %s: %s" % (
            version, (err or out).strip()[-500:] or "rc %d" % rc), **failed(result))
    os.replace(staged, binary)


def discard(src):
    """Remove the transferred file, then its directory when that holds nothing else; True when both are gone."""
    for remove, path in ((os.unlink, src), (os.rmdir, os.path.dirname(src))):
        try:
            remove(path)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


def install_from_index(module, path, version, python, result):
    if os.path.isdir(path) and os.listdir(path) and not os.path.isfile(os.path.join(path, "pyvenv.cfg")) \
            and not holds_only_uv(path):
        module.fail_json(msg="%s exists and is not a venv: remove it or choose another python_venv_uv_dir" % path,
                         **failed(result))
    commands = venv.uv_install_commands(python, path, version, find_pip_wheel(module, python))
    result.update(changed=True, commands=[argv for argv, dummy in commands])
    if module.check_mode:
        module.exit_json(**result)
    env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    if module.params["pip_cache_dir"]:
        env["PIP_CACHE_DIR"] = module.params["pip_cache_dir"]
    for argv, extra in commands:
        rc, out, err = module.run_command(argv, environ_update=dict(env, **extra))
        if rc != 0:
            module.fail_json(msg="%s failed (rc %d): %s" % (" ".join(argv[:4]), rc, (err or out).strip()[-2000:]),
                             rc=rc, stdout=out, stderr=err, **failed(result))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            version=dict(type="str", required=True),
            source=dict(type="str", default="auto", choices=list(uv_source.SOURCES)),
            controller_binary=dict(type="path"),
            python=dict(type="path", default="/usr/bin/python3"),
            pip_cache_dir=dict(type="path"),
            controller=dict(type="dict"),
            src=dict(type="path"),
            checksum=dict(type="str"),
            compressed=dict(type="bool", default=False),
            remove_src=dict(type="bool", default=False),
            probe=dict(type="bool", default=True),
        ),
        required_by=dict(src="checksum"),
        supports_check_mode=True,
    )
    params = module.params
    path, version = params["path"], params["version"]
    binary = os.path.join(path, "bin", "uv")
    previous = read_version(module, binary)
    uname = os.uname()
    host = [uname.sysname, uname.machine]
    result = dict(changed=False, version=previous, previous_version=previous, binary=binary, commands=[],
                  source="present", reason="", host_platform=host, transfer=False)

    if params["src"]:
        result.update(source="controller", reason=(params["controller"] or {}).get("reason") or "copied")
        try:
            if previous != version:
                put_in_place(module, params["src"], params["checksum"], binary, version, result, params["compressed"])
                result.update(changed=True, version=version)
        finally:
            if params["remove_src"]:
                result["src_removed"] = discard(params["src"])
        module.exit_json(**result)

    controller = params["controller"] or {}
    decision, reason = uv_source.decide(
        params["source"], version, previous, controller.get("binary") or None,
        controller.get("reason") or "the controller was not searched",
        (controller.get("system") or "", controller.get("machine") or ""), (host[0], host[1]))
    result.update(source=decision, reason=reason)
    if decision == "present":
        module.exit_json(**result)
    if decision == "fail":
        result["source"] = "none"
        module.fail_json(msg="uv %s cannot be copied from the controller: %s" % (version, reason), **result)
    if decision == "controller":
        # The action plugin transfers the binary and calls again with src (in check mode it reports the copy).
        result.update(changed=True, transfer=True)
        module.exit_json(**result)

    install_from_index(module, path, version, params["python"], result)
    result["version"] = read_version(module, binary)
    if result["version"] != version:
        result["source"] = "none"
        module.fail_json(msg="uv %s was installed, but %s --version does not say so" % (version, binary), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
