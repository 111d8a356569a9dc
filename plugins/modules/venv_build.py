#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: venv_build
short_description: Build a Python virtual environment with uv or pip, once per set of inputs
version_added: 1.0.0
description:
  - Creates a virtual environment with O(python) at O(path) and installs, in this order, a requirements or lock file
    (O(requirements), with O(constraints) and O(require_hashes)), a project directory (O(project)), wheels and
    packages (O(wheels), O(packages)) and last the O(fallback_packages) whose distribution the venv does not have yet.
  - "The installer is L(uv,https://docs.astral.sh/uv/) (C(uv venv --seed), then C(uv pip install)) or pip
    (C(python -m venv), then C(<venv>/bin/python -m pip install)); both get the same arguments, so a lock file with
    hashes installs in hash-checking mode with either. O(installer=auto) takes uv when its binary is found."
  - "The module records a fingerprint of its inputs in the venv (C(.flaskops-venv.json)): the interpreter's real path
    and version, the SHA-256 of the requirements and constraints files' contents, O(require_hashes), a tree hash of
    the project directory, the SHA-256 of each wheel, the packages and the fallback packages. When the venv's
    interpreter runs and the recorded fingerprint is the inputs', nothing is run and RV(changed) is false."
  - A venv built by another interpreter (another path or version), or whose interpreter does not run, is removed and
    built again. When only the inputs changed, they are installed into the existing venv (distributions that the new
    inputs no longer name stay until the venv is rebuilt; a release deploy builds a new venv per release anyway).
  - The fingerprint is removed before anything is installed and written only after every step succeeded, so a venv
    that a failed run left behind is never taken for a complete one.
  - The record of earlier versions of the C(flaskops.deploy.python_venv) role (C(.flaskops-python), the interpreter
    only) is read too; such a venv is installed into once and then recorded the new way.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module reads the inputs and the venv's record, runs the interpreters only to read their
        version and the venv's installed distributions, and returns RV(changed), RV(action) and the RV(commands) a
        real run would run, without running them.
      - An input file that does not exist yet in check mode (a release not unpacked) is reported with a warning and
        counts as a change.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description:
      - The venv's directory, for example C(/srv/hello/releases/<id>/.venv).
      - An existing directory is only ever removed when it is a venv (it has C(pyvenv.cfg)) or empty.
    type: path
    required: true
  python:
    description:
      - The interpreter that creates the venv. uv never downloads one (C(UV_PYTHON_DOWNLOADS=never)).
    type: path
    default: /usr/bin/python3
  requirements:
    description:
      - A requirements file on the target, a plain C(requirements.txt) or a lock file (C(pip-compile --generate-hashes),
        C(uv pip compile --generate-hashes)). A file with hashes installs in hash-checking mode.
    type: path
  require_hashes:
    description:
      - Pass C(--require-hashes) with O(requirements), so that every requirement must be pinned and hashed.
    type: bool
    default: false
  constraints:
    description:
      - A constraints file on the target (C(--constraint)), passed to every install step. It installs nothing by itself.
    type: path
  project:
    description:
      - A directory on the target with a C(pyproject.toml) or C(setup.py), installed after O(requirements)
        (C(pip install <dir>)).
      - Its fingerprint is a hash of its files' paths, modes and contents, without C(.git), C(__pycache__), C(*.pyc),
        C(*.egg-info), C(build), C(.flaskops*) and the venv itself when it lies inside the project.
    type: path
  wheels:
    description:
      - Wheel files on the target, installed after the project, together with O(packages).
    type: list
    elements: path
    default: []
  packages:
    description:
      - Extra requirement specifiers, installed together with O(wheels).
    type: list
    elements: str
    default: []
  fallback_packages:
    description:
      - Requirement specifiers installed last, each only when the venv has no distribution of that name yet (names
        compare as pip does, PEP 503). A version pinned by the requirements or the project wins over the one given here.
    type: list
    elements: str
    default: []
  installer:
    description:
      - V(uv) or V(pip); V(auto) takes uv when O(uv_binary) (or C(uv) on the C(PATH)) exists and pip otherwise.
      - The installer is not part of the fingerprint, so switching it does not reinstall a venv.
    type: str
    default: auto
    choices: [auto, uv, pip]
  uv_binary:
    description:
      - The uv binary. When not given, C(uv) is looked for on the C(PATH) and in C(/opt/flaskops/uv/bin), where the
        C(flaskops.deploy.python_venv) role installs it.
    type: path
  uv_cache_dir:
    description:
      - uv's cache (C(UV_CACHE_DIR)), shared between venvs. Created when missing.
      - On the same file system as the venvs, packages are hard-linked from it (O(link_mode)).
    type: path
    default: /var/cache/flaskops/uv
  pip_cache_dir:
    description:
      - pip's cache (C(PIP_CACHE_DIR)), shared between venvs. Created when missing.
    type: path
    default: /var/cache/flaskops/pip
  link_mode:
    description:
      - How uv puts packages from its cache into the venv (C(UV_LINK_MODE)). uv copies when the cache is on another
        file system than the venv.
    type: str
    default: hardlink
    choices: [hardlink, copy, symlink, clone]
  reuse_from:
    description:
      - Venvs of earlier builds (for example the live release's, C(/srv/hello/current/.venv)) that a new venv may be
        a copy of. When O(path) has no venv yet (or must be rebuilt) and one of them, in this order, runs and records
        the fingerprint of this build's inputs, it is copied instead of installed (RV(action=copy)). Symbolic links
        are resolved first.
      - "The copy hard-links the files (O(link_mode=copy) copies them, as across file systems) and rewrites the
        venv's path where the venv names it: the scripts in C(bin/) (their C(#!) line, C(activate)) and
        C(pyvenv.cfg). Bytecode keeps its timestamps, so it stays valid, and Python takes a module's file name from
        where it is loaded."
      - Never with O(project) or O(wheels), which install files of the release itself.
    type: list
    elements: path
    default: []
  owner:
    description:
      - Owner of the venv's files, set on every file after a build (and when the venv's directory has another owner).
        Not changed when not given.
    type: str
  group:
    description:
      - Group of the venv's files, set like O(owner).
    type: str
notes:
  - "uv reads the system's certificate store (C(UV_SYSTEM_CERTS=1), C(UV_NATIVE_TLS=1) for uv before 0.11), so the
    extra CAs the host trusts for pip are trusted by uv too; C(PIP_CERT) or C(REQUESTS_CA_BUNDLE) become
    C(SSL_CERT_FILE), and C(PIP_INDEX_URL) and C(PIP_EXTRA_INDEX_URL) become uv's variables, unless uv's own are set.
    The proxy variables are read by both installers. uv does not read C(pip.conf)."
  - "uv seeds the venv with pip (C(--seed)), so anything that calls the venv's pip keeps working. The seed comes from
    uv's cache when it has it (C(--offline) first, without asking the index whether pip is the newest); only an
    empty cache asks the index."
  - "Both installers compile the bytecode of what they install (C(UV_COMPILE_BYTECODE=1) for uv, pip's default): the
    service cannot write it into a root-owned release, so each of its processes would compile every module it imports
    again."
seealso:
  - module: ansible.builtin.pip
    description: Installs packages one call at a time, without a fingerprint.
"""

EXAMPLES = r"""
- name: Build a release's venv from its requirements file (uv when installed, pip otherwise)
  flaskops.deploy.venv_build:
    path: /srv/hello/releases/abc123/.venv
    requirements: /srv/hello/releases/abc123/requirements.txt
    fallback_packages: [gunicorn==23.0.0]
  register: hello_venv

- name: Build from a lock file in hash-checking mode, with pip only
  flaskops.deploy.venv_build:
    path: /srv/hello/releases/abc123/.venv
    requirements: /srv/hello/releases/abc123/requirements.lock
    require_hashes: true
    installer: pip

- name: Install the release itself (its pyproject.toml) with a constraints file and an extra package
  flaskops.deploy.venv_build:
    path: /srv/hello/releases/abc123/.venv
    project: /srv/hello/releases/abc123
    constraints: /srv/hello/releases/abc123/constraints.txt
    packages: [sentry-sdk==2.19.0]
    uv_binary: /opt/flaskops/uv/bin/uv
    owner: root
    group: root
"""

RETURN = r"""
changed:
  description: Whether the venv was created, rebuilt, installed into or had its owner changed (in check mode, whether
    a real run would).
  returned: always
  type: bool
  sample: true
action:
  description:
    - V(create) (no venv yet), V(rebuild) (removed and built again), V(install) (installed into the existing venv),
      V(copy) (a copy of a venv of O(reuse_from) built from the same inputs) or V(none) (built from the same inputs
      already).
  returned: always
  type: str
  sample: create
reason:
  description: Why the module took RV(action).
  returned: always
  type: str
  sample: "the inputs changed: requirements"
copied_from:
  description: With RV(action=copy), the venv that was copied (its real path); empty otherwise.
  returned: always
  type: str
  sample: /srv/hello/releases/0f3a9c2b1d4e/.venv
rebuilt:
  description: Whether an existing venv was removed and built again.
  returned: always
  type: bool
  sample: false
installer:
  description: The installer used (or that a real run would use), V(uv) or V(pip).
  returned: always
  type: str
  sample: uv
fingerprint:
  description: The SHA-256 of the inputs, as recorded in C(<path>/.flaskops-venv.json).
  returned: always
  type: str
  sample: 0b6f2c0e4d9b0a3c1f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928
interpreter:
  description: The real path and version of O(python).
  returned: always
  type: str
  sample: /usr/bin/python3.11 3.11.2
commands:
  description:
    - The commands run, in order (in check mode, the commands a real run would run; the fallback packages' command is
      then the one the venv's current state calls for).
  returned: always
  type: list
  elements: list
  sample: [["/opt/flaskops/uv/bin/uv", "venv", "--seed", "--no-project", "--quiet", "--python", "/usr/bin/python3",
            "/srv/hello/releases/abc123/.venv"]]
fallback_installed:
  description: The fallback packages that were installed (or would be), because the venv had no distribution of
    their name.
  returned: always
  type: list
  elements: str
  sample: [gunicorn==23.0.0]
duration:
  description: The seconds the run took.
  returned: always
  type: float
  sample: 0.42
cmd:
  description: The command that failed.
  returned: failure
  type: list
  elements: str
rc:
  description: Its exit status.
  returned: failure
  type: int
stderr:
  description: The last lines of its output.
  returned: failure
  type: str
"""

import grp
import hashlib
import os
import pwd
import shutil
import stat
import tempfile
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.flaskops.deploy.plugins.module_utils import _venv as venv
from ansible_collections.flaskops.deploy.plugins.module_utils._tree_hash import tree_hash

UV_DIRS = ["/opt/flaskops/uv/bin"]


class BuildFailed(Exception):
    """A command of the build failed; the module fails with its output."""

    def __init__(self, msg: str, **details: t.Any) -> None:
        super().__init__(msg)
        self.details = details


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")
    except (FileNotFoundError, NotADirectoryError):
        return None


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Builder:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.path = os.path.normpath(self.params["path"])
        self.python = venv.venv_python(self.path)
        self.record_path = os.path.join(self.path, venv.FINGERPRINT_FILE)
        self.legacy_path = os.path.join(self.path, venv.LEGACY_FILE)
        self.ran: list[list[str]] = []

    # --- reading ---------------------------------------------------------------------------------

    def interpreter(self) -> str:
        if not os.access(self.params["python"], os.X_OK):
            raise BuildFailed(f"the interpreter {self.params['python']} does not exist or is not executable")
        rc, out, err = self.module.run_command([self.params["python"], "-c", venv.IDENTITY_SCRIPT])
        if rc != 0 or not out.strip():
            raise BuildFailed(f"the interpreter {self.params['python']} does not run: {venv.tail(err or out, 5)}",
                              cmd=[self.params["python"], "-c", venv.IDENTITY_SCRIPT], rc=rc, stderr=venv.tail(err))
        return out.strip()

    def _file_hash(self, option: str, path: str | None) -> str | None:
        if not path:
            return None
        if os.path.isfile(path):
            return _sha256(path)
        if self.module.check_mode:
            self.module.warn(f"{option} {path} does not exist (yet); a real run needs it")
            return f"missing:{path}"
        raise BuildFailed(f"{option} {path} is not a file")

    def _project_hash(self) -> str | None:
        project = self.params["project"]
        if not project:
            return None
        if not os.path.isdir(project):
            if self.module.check_mode:
                self.module.warn(f"project {project} does not exist (yet); a real run needs it")
                return f"missing:{project}"
            raise BuildFailed(f"project {project} is not a directory")
        patterns = list(venv.PROJECT_EXCLUDES)
        project = os.path.normpath(project)
        if os.path.commonpath([project, self.path]) == project and project != self.path:
            patterns.append(os.path.basename(self.path))
        return tree_hash(project, patterns)

    def inputs(self, interpreter: str) -> dict[str, t.Any]:
        params = self.params
        return venv.fingerprint_inputs(
            interpreter,
            requirements_sha256=self._file_hash("requirements", params["requirements"]),
            constraints_sha256=self._file_hash("constraints", params["constraints"]),
            require_hashes=params["require_hashes"],
            project_hash=self._project_hash(),
            wheels_sha256=[(os.path.basename(wheel), self._file_hash("wheel", wheel) or "") for wheel in params["wheels"]],
            packages=params["packages"],
            fallback_packages=params["fallback_packages"],
        )

    def venv_works(self) -> bool:
        if not os.access(self.python, os.X_OK):
            return False
        rc, dummy, dummy = self.module.run_command([self.python, "-c", "import sys"])
        return rc == 0

    def installed(self) -> list[str]:
        rc, out, err = self.module.run_command([self.python, "-c", venv.INSTALLED_SCRIPT])
        if rc != 0:
            raise BuildFailed(f"cannot list the distributions of {self.path}: {venv.tail(err, 5)}",
                              cmd=[self.python, "-c", venv.INSTALLED_SCRIPT], rc=rc, stderr=venv.tail(err))
        return venv.parse_installed(out)

    def uv_binary(self) -> str | None:
        given = self.params["uv_binary"]
        if given:
            return given if os.path.isfile(given) and os.access(given, os.X_OK) else None
        return self.module.get_bin_path("uv", opt_dirs=UV_DIRS)

    # --- ownership -------------------------------------------------------------------------------

    def ids(self) -> tuple[int, int]:
        owner, group = self.params["owner"], self.params["group"]
        try:
            uid = -1 if owner is None else (int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid)
            gid = -1 if group is None else (int(group) if group.isdigit() else grp.getgrnam(group).gr_gid)
        except KeyError as exc:
            raise BuildFailed(f"unknown owner or group: {to_native(exc)}") from exc
        return uid, gid

    def owned(self, uid: int, gid: int) -> bool:
        info = os.lstat(self.path)
        return (uid == -1 or info.st_uid == uid) and (gid == -1 or info.st_gid == gid)

    def chown(self, uid: int, gid: int) -> None:
        if uid == -1 and gid == -1:
            return
        for dirpath, dirnames, filenames in os.walk(self.path):
            os.lchown(dirpath, uid, gid)
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                if name in dirnames and not os.path.islink(full):
                    continue  # chowned as dirpath
                os.lchown(full, uid, gid)

    # --- writing ---------------------------------------------------------------------------------

    def run(self, argv: list[str], env: dict[str, str], step: str) -> None:
        self.ran.append(argv)
        rc, out, err = self.module.run_command(argv, environ_update=env)
        if rc != 0:
            output = venv.tail(err or out)
            raise BuildFailed(f"{step} failed ({' '.join(argv)}), rc={rc}:\n{output}", cmd=argv, rc=rc, stderr=output)

    def attempt(self, argv: list[str], env: dict[str, str]) -> bool:
        """Run ``argv``; when it fails, remove what it left and return False (the caller runs another command)."""
        rc, dummy, dummy = self.module.run_command(argv, environ_update=env)
        if rc == 0:
            self.ran.append(argv)
            return True
        self.clear()
        return False

    def clear(self) -> None:
        """Remove the venv's directory, which must be a venv (pyvenv.cfg) or empty."""
        if not os.path.lexists(self.path):
            return
        if os.path.islink(self.path) or not os.path.isdir(self.path):
            raise BuildFailed(f"{self.path} exists and is not a directory")
        if os.listdir(self.path) and not os.path.isfile(os.path.join(self.path, "pyvenv.cfg")):
            raise BuildFailed(f"{self.path} exists and is not a virtual environment (no pyvenv.cfg): not removing it")
        shutil.rmtree(self.path)

    def reuse(self, inputs: dict[str, t.Any]) -> tuple[str, str, str] | None:
        """The venv of O(reuse_from) to copy (:func:`venv.reuse_choice`), or None."""
        if not venv.reusable(self.params["project"], self.params["wheels"]):
            return None
        candidates = []
        for given in self.params["reuse_from"]:
            real = os.path.realpath(given)
            if not os.path.isfile(os.path.join(real, "pyvenv.cfg")):
                continue
            python = venv.venv_python(real)
            works = os.access(python, os.X_OK) and self.module.run_command([python, "-c", "import sys"])[0] == 0
            candidates.append((real, venv.read_record(_read(os.path.join(real, venv.FINGERPRINT_FILE))), works))
        return venv.reuse_choice(inputs, self.path, candidates)

    def copy_from(self, source: str, named: str) -> None:
        """Copy the venv at ``source`` (whose files name ``named``) to O(path): hard links unless
        O(link_mode=copy), the files that name the old path written anew with the new one."""
        link = self.params["link_mode"] != "copy"
        skip = {venv.FINGERPRINT_FILE, venv.LEGACY_FILE}
        for dirpath, dirnames, filenames in os.walk(source):
            relative = os.path.relpath(dirpath, source)
            target_dir = self.path if relative == "." else os.path.join(self.path, relative)
            os.makedirs(target_dir, exist_ok=True)
            os.chmod(target_dir, stat.S_IMODE(os.stat(dirpath).st_mode))
            for name in dirnames + filenames:
                full, target = os.path.join(dirpath, name), os.path.join(target_dir, name)
                if os.path.islink(full):
                    os.symlink(os.readlink(full), target)
                    continue
                if name in dirnames or (relative == "." and name in skip):
                    continue
                if relative == "bin" or (relative == "." and name == "pyvenv.cfg"):
                    with open(full, "rb") as handle:
                        content = venv.rewrite_path(handle.read(), named, self.path)
                    if content is not None:
                        with open(target, "wb") as handle:
                            handle.write(content)
                        shutil.copystat(full, target)
                        continue
                try:
                    if not link:
                        raise OSError("copy")
                    os.link(full, target)
                except OSError:
                    shutil.copy2(full, target)
            dirnames[:] = [name for name in dirnames if not os.path.islink(os.path.join(dirpath, name))]

    def write_record(self, content: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".flaskops-venv-", dir=self.path)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(to_bytes(content))
            os.chmod(tmp, 0o644)
            os.rename(tmp, self.record_path)
        finally:
            _remove(tmp)


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            python=dict(type="path", default="/usr/bin/python3"),
            requirements=dict(type="path"),
            require_hashes=dict(type="bool", default=False),
            constraints=dict(type="path"),
            project=dict(type="path"),
            wheels=dict(type="list", elements="path", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            fallback_packages=dict(type="list", elements="str", default=[]),
            installer=dict(type="str", default="auto", choices=list(venv.INSTALLERS)),
            uv_binary=dict(type="path"),
            uv_cache_dir=dict(type="path", default="/var/cache/flaskops/uv"),
            pip_cache_dir=dict(type="path", default="/var/cache/flaskops/pip"),
            link_mode=dict(type="str", default="hardlink", choices=list(venv.LINK_MODES)),
            reuse_from=dict(type="list", elements="path", default=[]),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    started = time.monotonic()
    builder = Builder(module)
    result: dict[str, t.Any] = dict(changed=False, action="none", reason="", rebuilt=False, installer="",
                                    fingerprint="", interpreter="", commands=[], fallback_installed=[], duration=0.0,
                                    copied_from="")

    def fail(exc: Exception) -> t.NoReturn:
        details = exc.details if isinstance(exc, BuildFailed) else {}
        result.update(commands=builder.ran, duration=round(time.monotonic() - started, 3))
        module.fail_json(msg=to_native(exc), **details, **result)

    if not os.path.isabs(params["path"]):
        module.fail_json(msg=f"path must be absolute, got {params['path']!r}", **result)
    try:
        uv = builder.uv_binary()
        installer = venv.choose_installer(params["installer"], uv)
        interpreter = builder.interpreter()
        inputs = builder.inputs(interpreter)
        works = builder.venv_works()
        recorded = venv.read_record(_read(builder.record_path)) if works else None
        legacy = _read(builder.legacy_path) if works else None
        exists = os.path.isdir(builder.path) and bool(os.listdir(builder.path))
        action, reason = venv.plan(inputs, works, recorded, legacy, exists)
        reuse = builder.reuse(inputs) if action in ("create", "rebuild") else None
        uid, gid = builder.ids()
    except (BuildFailed, venv.VenvError) as exc:
        fail(exc)
    result.update(action=action, reason=reason, rebuilt=action == "rebuild", installer=installer,
                  fingerprint=venv.fingerprint(inputs), interpreter=interpreter)
    cache_dir = params["uv_cache_dir"] if installer == "uv" else params["pip_cache_dir"]
    env = venv.environment(installer, cache_dir, params["link_mode"], os.environ)
    steps = venv.commands(
        installer, builder.path, params["python"], create=action in ("create", "rebuild"), uv=uv,
        requirements=params["requirements"], constraints=params["constraints"], require_hashes=params["require_hashes"],
        project=params["project"], wheels=params["wheels"], packages=params["packages"],
    )

    if action == "none":
        if works and not builder.owned(uid, gid):
            result["changed"] = True
            if not module.check_mode:
                builder.chown(uid, gid)
        result["duration"] = round(time.monotonic() - started, 3)
        module.exit_json(**result)

    result["changed"] = True
    if reuse:
        source, named, built_by = reuse
        result.update(action="copy", reason=f"{reason}; {source} was built from the same inputs", copied_from=source,
                      installer=built_by or installer)
        if module.check_mode:
            result["duration"] = round(time.monotonic() - started, 3)
            module.exit_json(**result)
        try:
            _remove(builder.record_path)
            _remove(builder.legacy_path)
            builder.clear()
            builder.copy_from(source, named)
            if not builder.venv_works():
                raise BuildFailed("the copy does not run")
            builder.write_record(venv.record(inputs, result["installer"], builder.path))
            builder.chown(uid, gid)
            result["duration"] = round(time.monotonic() - started, 3)
            module.exit_json(**result)
        except (BuildFailed, OSError) as exc:
            # A copy that failed is no venv: it is removed and the venv is built as it would have been.
            module.warn(f"copying the venv {source} failed, so it is built instead: {to_native(exc)}")
            try:
                builder.clear()
            except (BuildFailed, OSError) as error:
                fail(error)
            action = "create" if action == "create" else "rebuild"
            result.update(action=action, reason=reason, copied_from="", installer=installer)
            steps = venv.commands(
                installer, builder.path, params["python"], create=True, uv=uv, requirements=params["requirements"],
                constraints=params["constraints"], require_hashes=params["require_hashes"], project=params["project"],
                wheels=params["wheels"], packages=params["packages"],
            )
    if module.check_mode:
        planned = [argv for dummy, argv in steps]
        try:
            missing = (venv.missing_fallbacks(params["fallback_packages"], builder.installed())
                       if action == "install" and params["fallback_packages"] else list(params["fallback_packages"]))
        except (BuildFailed, venv.VenvError) as exc:
            fail(exc)
        if missing:
            planned.append(venv.fallback_command(installer, builder.path, missing, params["constraints"], uv))
        result.update(commands=planned, fallback_installed=missing, duration=round(time.monotonic() - started, 3))
        module.exit_json(**result)

    try:
        os.makedirs(cache_dir, mode=0o755, exist_ok=True)
        # Whatever fails from here on leaves no record: the next run installs again.
        _remove(builder.record_path)
        _remove(builder.legacy_path)
        if action in ("create", "rebuild"):
            builder.clear()
        for step, argv in steps:
            if step == "create" and installer == "uv" and builder.attempt(venv.offline_first(argv), env):
                continue
            builder.run(argv, env, step)
        if params["fallback_packages"]:
            missing = venv.missing_fallbacks(params["fallback_packages"], builder.installed())
            if missing:
                builder.run(venv.fallback_command(installer, builder.path, missing, params["constraints"], uv), env,
                            "fallback packages")
            result["fallback_installed"] = missing
        builder.write_record(venv.record(inputs, installer, builder.path))
        builder.chown(uid, gid)
    except (BuildFailed, venv.VenvError, OSError) as exc:
        _remove(builder.record_path)
        fail(exc)
    result.update(commands=builder.ran, duration=round(time.monotonic() - started, 3))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
