# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""Building a release venv with uv or pip, as pure functions.

A venv is built from its *inputs*: the interpreter, a requirements (or lock) file, a constraints file, a project
directory, wheels, packages and fallback packages. The inputs are reduced to a *fingerprint* recorded in the venv
(``FINGERPRINT_FILE``) once the build succeeded, so that a later run with the same inputs runs no installer at all.

``plan`` decides between ``none`` (nothing to do), ``install`` (install into the existing venv) and ``create`` /
``rebuild`` (a new venv); a new venv whose inputs another venv was built from is a copy of it (``reuse_choice``,
``rewrite_path``): a release whose requirements did not change costs a copy, not an install. ``commands`` returns
the argument lists of each step, which install the same things in the same order with the same lock, hash and
constraint semantics with either installer.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t

FINGERPRINT_FILE = ".flaskops-venv.json"
# Written by earlier versions of the python_venv role: "<interpreter realpath> <version>\n".
LEGACY_FILE = ".flaskops-python"
FINGERPRINT_VERSION = 1

INSTALLERS = ("auto", "uv", "pip")
LINK_MODES = ("hardlink", "copy", "symlink", "clone")

# Names in a project directory that do not change what it installs: the venv itself (added by the caller when it is
# inside the project), version control, bytecode, and what a setuptools build leaves in the tree.
PROJECT_EXCLUDES = (".git", ".hg", ".svn", "__pycache__", "*.pyc", "*.egg-info", "build", ".flaskops*")

# Prints the interpreter's identity, the way the python_venv role always recorded it.
IDENTITY_SCRIPT = "import os, sys; print(os.path.realpath(sys.executable), sys.version.split()[0])"
# Prints the names of the distributions installed in the running interpreter's environment, as a JSON list.
INSTALLED_SCRIPT = (
    "import json, sys\n"
    "from importlib import metadata\n"
    "json.dump(sorted({dist.metadata['Name'] or '' for dist in metadata.distributions()}), sys.stdout)\n"
)

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class VenvError(ValueError):
    """Inputs that cannot build a venv."""


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares it: case, runs of ``-``, ``_`` and ``.`` alike."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str | None:
    """The distribution name at the start of a pip specifier (``gunicorn==23.0.0`` -> ``gunicorn``), or None."""
    match = _NAME.match(spec)
    return match.group(1) if match else None


def missing_fallbacks(specs: t.Iterable[str], installed: t.Iterable[str]) -> list[str]:
    """The fallback specifiers whose distribution is not installed, as given and in order.

    A distribution that is installed stays whatever its version: a version pinned by the requirements or the project
    wins over the fallback's. A specifier without a recognisable name is always returned (pip reports it).
    """
    present = {normalize_name(name) for name in installed if name}
    missing = []
    for spec in specs:
        name = requirement_name(spec)
        if name is None or normalize_name(name) not in present:
            missing.append(spec)
    return missing


def parse_installed(output: str) -> list[str]:
    """The names printed by ``INSTALLED_SCRIPT``."""
    try:
        names = json.loads(output)
    except ValueError as exc:
        raise VenvError(f"cannot read the venv's installed distributions: {output.strip()[:200]!r}") from exc
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise VenvError(f"cannot read the venv's installed distributions: {output.strip()[:200]!r}")
    return names


def fingerprint_inputs(
    interpreter: str,
    requirements_sha256: str | None = None,
    constraints_sha256: str | None = None,
    require_hashes: bool = False,
    project_hash: str | None = None,
    wheels_sha256: t.Sequence[tuple[str, str]] = (),
    packages: t.Sequence[str] = (),
    fallback_packages: t.Sequence[str] = (),
) -> dict[str, t.Any]:
    """What a venv is built from, as recorded in ``FINGERPRINT_FILE``.

    :param interpreter: the identity printed by ``IDENTITY_SCRIPT`` (``/usr/bin/python3.11 3.11.2``).
    :param requirements_sha256: the requirements file's content hash (its path does not matter: a new release
        directory with the same file is the same input).
    :param project_hash: the project directory's tree hash.
    :param wheels_sha256: ``(file name, sha256)`` of each wheel, in order.
    """
    return {
        "version": FINGERPRINT_VERSION,
        "interpreter": interpreter,
        "requirements": requirements_sha256,
        "constraints": constraints_sha256,
        "require_hashes": bool(require_hashes),
        "project": project_hash,
        "wheels": [[name, digest] for name, digest in wheels_sha256],
        "packages": list(packages),
        "fallback_packages": list(fallback_packages),
    }


def fingerprint(inputs: t.Mapping[str, t.Any]) -> str:
    """The SHA-256 of the inputs in a canonical JSON form."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(inputs: t.Mapping[str, t.Any], installer: str, path: str | None = None) -> str:
    """The content of ``FINGERPRINT_FILE``; ``path`` is the venv's own path, the one its scripts name (a later build
    from the same inputs may copy the venv and rewrite that path, :func:`reuse_choice`)."""
    document = {"fingerprint": fingerprint(inputs), "installer": installer, "inputs": dict(inputs)}
    if path:
        document["path"] = path
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def read_record(text: str | None) -> dict[str, t.Any] | None:
    """``FINGERPRINT_FILE`` read back; None when it is missing or unreadable (the venv is then installed again)."""
    if not text:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), dict):
        return None
    return document


def plan(
    inputs: t.Mapping[str, t.Any],
    venv_works: bool,
    recorded: t.Mapping[str, t.Any] | None,
    legacy: str | None = None,
    exists: bool = False,
) -> tuple[str, str]:
    """Decide what a run does: ``(action, reason)``.

    ``action`` is ``create`` (no venv yet), ``rebuild`` (a venv that does not run or was built by another
    interpreter: removed and built again), ``install`` (the venv is kept and the inputs are installed into it) or
    ``none`` (the recorded fingerprint is the inputs').

    :param venv_works: whether the venv's interpreter exists and runs.
    :param recorded: ``FINGERPRINT_FILE`` read back (``read_record``), None when there is none.
    :param legacy: the content of ``LEGACY_FILE``, the interpreter recorded by earlier versions of the role.
    :param exists: whether the venv's directory exists and is not empty.
    """
    if not venv_works:
        if exists:
            return "rebuild", "the venv's interpreter does not run"
        return "create", "there is no venv yet"
    if recorded is not None:
        built_with = recorded["inputs"].get("interpreter")
    elif legacy is not None:
        built_with = legacy.strip()
    else:
        return "install", "the venv has no record of what it was built from"
    if built_with != inputs["interpreter"]:
        return "rebuild", f"the venv was built by {built_with or 'an unknown interpreter'}, not {inputs['interpreter']}"
    if recorded is None:
        return "install", "the venv was built by an earlier version of the role"
    if recorded.get("fingerprint") != fingerprint(inputs):
        changed = sorted(key for key in set(inputs) | set(recorded["inputs"])
                         if inputs.get(key) != recorded["inputs"].get(key))
        return "install", f"the inputs changed: {', '.join(changed) or 'fingerprint'}"
    return "none", "the venv was built from these inputs"


def reusable(project: str | None, wheels: t.Sequence[str]) -> bool:
    """Whether a venv built from the same inputs elsewhere may be copied instead of installed.

    Not with a project or wheels: they are installed from files of the release (a project's code is copied into
    site-packages, a wheel's origin is recorded in ``direct_url.json``), so a copy would carry the other release's.
    """
    return not project and not wheels


def reuse_choice(
    inputs: t.Mapping[str, t.Any],
    path: str,
    candidates: t.Sequence[tuple[str, t.Mapping[str, t.Any] | None, bool]],
) -> tuple[str, str, str] | None:
    """The venv to copy for a new venv at ``path``: ``(candidate, the path its scripts name, installer)`` or None.

    :param candidates: ``(real path, record read back or None, whether its interpreter runs)``, in order of
        preference. The first whose recorded fingerprint is the inputs' is taken; ``path`` itself, a venv inside it
        or one it is inside of never is.
    """
    wanted = fingerprint(inputs)
    for candidate, recorded, works in candidates:
        if not candidate or not recorded or not works or recorded.get("fingerprint") != wanted:
            continue
        if candidate == path or candidate.startswith(path.rstrip("/") + "/") or path.startswith(candidate.rstrip("/") + "/"):
            continue
        return candidate, str(recorded.get("path") or candidate), str(recorded.get("installer") or "")
    return None


def rewrite_path(content: bytes, old: str, new: str) -> bytes | None:
    """``content`` with the venv's old path replaced by the new one (a script's shebang, ``activate``'s
    ``VIRTUAL_ENV``, ``pyvenv.cfg``'s ``command``), or None when it does not name the old path.

    Only the path followed by ``/``, a quote, whitespace or the end counts, so ``/a/.venv`` does not match in
    ``/a/.venv2``.
    """
    pattern = re.compile(re.escape(old.rstrip("/").encode()) + rb"(?=[/\"'\s]|$)", re.MULTILINE)
    target = new.rstrip("/").encode()
    replaced, count = pattern.subn(lambda match: target, content)
    return replaced if count else None


def choose_installer(requested: str, uv_binary: str | None) -> str:
    """``uv`` or ``pip``: ``auto`` takes uv when its binary was found."""
    if requested not in INSTALLERS:
        raise VenvError(f"installer must be one of {', '.join(INSTALLERS)}, not {requested!r}")
    if requested == "auto":
        return "uv" if uv_binary else "pip"
    if requested == "uv" and not uv_binary:
        raise VenvError("installer is uv but no uv binary was found (install uv, set uv_binary, or use installer=auto)")
    return requested


def venv_python(path: str) -> str:
    return path.rstrip("/") + "/bin/python"


def _install_steps(
    requirements: str | None,
    constraints: str | None,
    require_hashes: bool,
    project: str | None,
    wheels: t.Sequence[str],
    packages: t.Sequence[str],
) -> list[tuple[str, list[str]]]:
    """The install steps in order, as ``(step, installer arguments)`` without the installer's own prefix."""
    constraint_args = ["--constraint", constraints] if constraints else []
    steps: list[tuple[str, list[str]]] = []
    if requirements:
        steps.append(("requirements",
                      (["--require-hashes"] if require_hashes else []) + constraint_args + ["--requirement", requirements]))
    if project:
        steps.append(("project", constraint_args + [project]))
    if wheels or packages:
        steps.append(("packages", constraint_args + list(wheels) + list(packages)))
    return steps


def fallback_args(missing: t.Sequence[str], constraints: str | None) -> list[str]:
    """The installer arguments that install the missing fallback packages."""
    return (["--constraint", constraints] if constraints else []) + list(missing)


def uv_create(uv: str, python: str, path: str) -> list[str]:
    """``uv venv`` seeded with pip (hooks and users that call the venv's pip keep working)."""
    return [uv, "venv", "--seed", "--no-project", "--quiet", "--python", python, path]


def offline_first(argv: t.Sequence[str]) -> list[str]:
    """``uv venv --seed`` from uv's cache alone (``--offline``): the pip, setuptools and wheel the cache has, without
    asking the index whether they are the newest (about 0.6 s through a proxy). The caller runs ``argv`` itself when
    this fails (an empty cache)."""
    return list(argv[:2]) + ["--offline"] + list(argv[2:])


def uv_install(uv: str, path: str, args: t.Sequence[str]) -> list[str]:
    return [uv, "pip", "install", "--python", venv_python(path)] + list(args)


def pip_create(python: str, path: str) -> list[str]:
    return [python, "-m", "venv", path]


def pip_install(path: str, args: t.Sequence[str]) -> list[str]:
    return [venv_python(path), "-m", "pip", "install"] + list(args)


def commands(
    installer: str,
    path: str,
    python: str,
    create: bool,
    uv: str | None = None,
    requirements: str | None = None,
    constraints: str | None = None,
    require_hashes: bool = False,
    project: str | None = None,
    wheels: t.Sequence[str] = (),
    packages: t.Sequence[str] = (),
) -> list[tuple[str, list[str]]]:
    """Every command of a build but the fallback packages', as ``(step, argv)``: ``create`` first when asked.

    Both installers get the same arguments: ``--require-hashes`` and the constraints for the requirements file,
    the constraints for the project, the wheels and the packages. A file with hashes installs in hash-checking mode
    with either (uv verifies the hashes it is given by default).
    """
    if installer not in ("uv", "pip"):
        raise VenvError(f"installer must be uv or pip here, not {installer!r}")
    if installer == "uv" and not uv:
        raise VenvError("the uv installer needs the uv binary")
    steps = _install_steps(requirements, constraints, require_hashes, project, wheels, packages)
    if installer == "uv":
        result = [("create", uv_create(uv, python, path))] if create else []
        return result + [(step, uv_install(uv, path, args)) for step, args in steps]
    result = [("create", pip_create(python, path))] if create else []
    return result + [(step, pip_install(path, args)) for step, args in steps]


def fallback_command(installer: str, path: str, missing: t.Sequence[str], constraints: str | None = None,
                     uv: str | None = None) -> list[str]:
    """The command that installs the missing fallback packages."""
    args = fallback_args(missing, constraints)
    return uv_install(uv, path, args) if installer == "uv" else pip_install(path, args)


def environment(installer: str, cache_dir: str, link_mode: str = "hardlink",
                host_env: t.Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables the installer runs with, on top of the host's.

    pip gets its cache and no version check. uv gets its cache and link mode, bytecode compiled at install (as pip
    compiles it: a release's code and venv are root's, so the service could never write it, and each of its processes
    would compile every module it imports again), the system's certificate store (the
    host's extra CAs, as pip has them; ``UV_SYSTEM_CERTS`` from uv 0.11, ``UV_NATIVE_TLS`` before), no progress
    bars and no interpreter downloads; a CA bundle and index given to pip by environment (``PIP_CERT``,
    ``REQUESTS_CA_BUNDLE``, ``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``) are passed on unless uv's own variable is
    set. Proxies (``HTTPS_PROXY``, ``NO_PROXY``) are read by both from the host's environment as they are.
    """
    host_env = host_env or {}
    if installer == "pip":
        return {"PIP_CACHE_DIR": cache_dir, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    if link_mode not in LINK_MODES:
        raise VenvError(f"link_mode must be one of {', '.join(LINK_MODES)}, not {link_mode!r}")
    env = {
        "UV_CACHE_DIR": cache_dir,
        "UV_LINK_MODE": link_mode,
        "UV_COMPILE_BYTECODE": "1",
        "UV_SYSTEM_CERTS": "1",
        "UV_NATIVE_TLS": "1",
        "UV_NO_PROGRESS": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    bundle = host_env.get("PIP_CERT") or host_env.get("REQUESTS_CA_BUNDLE")
    if bundle and not host_env.get("SSL_CERT_FILE"):
        env["SSL_CERT_FILE"] = bundle
    for pip_name, uv_name in (("PIP_INDEX_URL", "UV_INDEX_URL"), ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL")):
        if host_env.get(pip_name) and not host_env.get(uv_name):
            env[uv_name] = host_env[pip_name]
    return env


def tail(text: str, lines: int = 20) -> str:
    """The last ``lines`` non-blank lines of an installer's output."""
    kept = [line for line in (text or "").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


_UV_VERSION = re.compile(r"^uv (\d+(?:\.\d+)*\S*)")
_PIP_WHEEL = re.compile(r"^pip-(\d+(?:\.\d+)*)-")


def parse_uv_version(output: str) -> str:
    """The version in `uv --version` output ("uv 0.13.9 (x86_64-unknown-linux-gnu)" -> "0.13.9"), or ""."""
    match = _UV_VERSION.match((output or "").strip())
    return match.group(1) if match else ""


def newest_wheel(paths: t.Iterable[str]) -> str | None:
    """The pip wheel of the highest version among paths (pip-<version>-...whl), or None."""
    best = None
    for path in paths:
        match = _PIP_WHEEL.match(path.rsplit("/", 1)[-1])
        if match:
            key = tuple(int(part) for part in match.group(1).split("."))
            if best is None or key > best[0]:
                best = (key, path)
    return best[1] if best else None


def uv_install_commands(python: str, path: str, version: str,
                        pip_wheel: str | None) -> list[tuple[list[str], dict[str, str]]]:
    """The (argv, extra environment) that install uv==version into a venv at path.

    With a pip wheel, the venv is made without pip and the wheel's pip (on PYTHONPATH, run by the venv's own
    interpreter) installs into it; without one, the venv gets pip and its pip installs.
    """
    python_in_venv = venv_python(path)
    spec = "uv==%s" % version
    if pip_wheel:
        return [([python, "-m", "venv", "--without-pip", path], {}),
                ([python_in_venv, "-m", "pip", "install", spec], {"PYTHONPATH": pip_wheel})]
    return [([python, "-m", "venv", path], {}), ([python_in_venv, "-m", "pip", "install", spec], {})]
