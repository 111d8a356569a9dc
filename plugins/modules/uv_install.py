#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: uv_install
short_description: Install one version of uv from the package index into its own venv
version_added: 1.0.0
description:
  - Reads the version of C(<path>/bin/uv); when it is not O(version), installs C(uv==<version>) into a venv at O(path)
    with pip, from the package index pip is configured with (C(pip.conf), C(PIP_INDEX_URL)), so that a host behind a
    mirror gets uv from the mirror.
  - "The venv is made without pip (C(python -m venv --without-pip)) and the pip wheel that the interpreter's ensurepip
    ships (Debian's C(python3-pip-whl), or C(ensurepip/_bundled)) runs the install into it: this skips installing pip
    into a venv that only holds one binary, about half the time of a venv with pip. Without such a wheel, the venv is
    made with pip, which then installs uv."
  - An existing directory at O(path) that is not a venv (no C(pyvenv.cfg)) is refused.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module reads the installed version and returns C(changed) and the RV(commands) a real run
        would run, without running them.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description:
      - The venv that holds uv; the binary is C(<path>/bin/uv).
    type: path
    required: true
  version:
    description:
      - The version of uv to install, exactly.
    type: str
    required: true
  python:
    description:
      - The interpreter that makes the venv.
    type: path
    default: /usr/bin/python3
  pip_cache_dir:
    description:
      - pip's cache (C(PIP_CACHE_DIR)).
    type: path
notes:
  - The install needs the package index; a failure is returned as a failed task with pip's output, for the caller to
    stop on or to fall back to pip.
seealso:
  - module: flaskops.deploy.venv_build
"""

EXAMPLES = r"""
- name: Install uv 0.13.9 into /opt/flaskops/uv
  flaskops.deploy.uv_install:
    path: /opt/flaskops/uv
    version: 0.13.9
    pip_cache_dir: /var/cache/flaskops/pip
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
  description: Path of the uv binary.
  returned: always
  type: str
  sample: /opt/flaskops/uv/bin/uv
commands:
  description: The commands run (in check mode, the commands a real run would run).
  returned: always
  type: list
  elements: list
  sample: [["/usr/bin/python3", "-m", "venv", "--without-pip", "/opt/flaskops/uv"]]
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule

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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            version=dict(type="str", required=True),
            python=dict(type="path", default="/usr/bin/python3"),
            pip_cache_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    path, version, python = module.params["path"], module.params["version"], module.params["python"]
    binary = os.path.join(path, "bin", "uv")
    previous = ""
    if os.access(binary, os.X_OK):
        rc, out, dummy = module.run_command([binary, "--version"])
        previous = venv.parse_uv_version(out) if rc == 0 else ""
    result = dict(changed=False, version=previous, previous_version=previous, binary=binary, commands=[])
    if previous == version:
        module.exit_json(**result)
    if os.path.isdir(path) and os.listdir(path) and not os.path.isfile(os.path.join(path, "pyvenv.cfg")):
        module.fail_json(msg="%s exists and is not a venv: remove it or choose another python_venv_uv_dir" % path,
                         **result)
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
                             rc=rc, stdout=out, stderr=err, **result)
    rc, out, dummy = module.run_command([binary, "--version"])
    result["version"] = venv.parse_uv_version(out) if rc == 0 else ""
    if result["version"] != version:
        module.fail_json(msg="uv %s was installed, but %s --version says %r" % (version, binary, out.strip()), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
