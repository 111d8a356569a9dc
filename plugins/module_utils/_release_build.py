# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""What the build of a release decides, as pure functions (``flaskops.deploy.release_build``).

A release directory ``<app_root>/releases/<id>`` is *built* when it has the built marker (code unpacked, shared
files linked, venv ready, bytecode compiled) and *complete* when it has the release marker (its hooks ran: fit to go
live). :func:`build_plan` says what a run does with a release id from the markers it finds; :func:`source_members`
which files of a source directory on the controller go into the release; :func:`archive_member_problem` refuses
archive members that would land outside the release; :func:`server_version_problem` and
:func:`server_python_problem` refuse a release whose venv cannot run the slots' server.

Everything here works on plain data and does no I/O, except :func:`source_members`, which only lists a directory,
and :func:`pack_directory`, which packs one.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
import re
import stat
import tarfile
import typing as t

# What is never packed from a source directory: bytecode (the host compiles its own) and, at the top level, hidden
# entries (.git, .venv, .env and other files of the developer's checkout).
SOURCE_EXCLUDE = ("__pycache__", "*.pyc")


def build_plan(built: bool, complete: bool) -> dict[str, bool]:
    """Return what a run does with a release whose directory has (or lacks) the two markers.

    ``build``: unpack the code and build the venv (no marker: a directory without one is an interrupted build and
    is removed first). ``prepare``: run the hooks and mark the release complete (a build whose hook failed is finished
    later without being rebuilt).
    """
    return {"build": not (built or complete), "prepare": not complete}


def source_members(root: str, exclude: t.Sequence[str] = SOURCE_EXCLUDE) -> list[str]:
    """Return the paths, relative to ``root``, to pack from a source directory: every top-level entry whose name does
    not start with a dot and, below them, everything whose name matches none of ``exclude``. Directories are listed
    (so that empty ones and their modes are kept), in a stable order."""
    members: list[str] = []

    def excluded(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)

    for top in sorted(os.listdir(root)):
        if top.startswith(".") or excluded(top):
            continue
        members.append(top)
        path = os.path.join(root, top)
        if os.path.isdir(path) and not os.path.islink(path):
            for current, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not excluded(d))
                rel = os.path.relpath(current, root)
                for name in dirs:
                    members.append(os.path.join(rel, name))
                for name in sorted(files):
                    if not excluded(name):
                        members.append(os.path.join(rel, name))
    return members


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def pack_directory(source: str, dest: str) -> int:
    """Pack the members of ``source`` (:func:`source_members`) into the gzip tarball ``dest``, owned by root; return
    their count. (The action of ``flaskops.deploy.release_build`` runs it on the controller.)"""
    members = source_members(source)
    with tarfile.open(dest, "w:gz", compresslevel=1) as archive:
        for member in members:
            archive.add(os.path.join(source, member), arcname=member, recursive=False, filter=_root_owned)
    return len(members)


# A source this small travels inside the module's arguments: one call to the host unpacks it, or finds the release
# built and ignores it. A bigger one is packed and transferred as a file only once the host said the release has to
# be built (the files of a directory before packing, then the packed archive).
INLINE_SOURCE_LIMIT = 4 << 20
INLINE_ARCHIVE_LIMIT = 1 << 20


def source_size(root: str, members: t.Sequence[str]) -> int:
    """The bytes of the regular files among ``members`` of ``root`` (links and directories count nothing)."""
    total = 0
    for member in members:
        info = os.lstat(os.path.join(root, member))
        if stat.S_ISREG(info.st_mode):
            total += info.st_size
    return total


def inline_source(source_bytes: int | None, archive_bytes: int | None = None) -> bool:
    """Whether a source goes inside the module's arguments: its files (a directory's, before packing) and its
    archive (once packed, or the user's archive) are both within the limits; an unknown size never does."""
    if source_bytes is None or source_bytes > INLINE_SOURCE_LIMIT:
        return False
    return archive_bytes is None or archive_bytes <= INLINE_ARCHIVE_LIMIT


def archive_member_problem(name: str, link_target: str | None = None) -> str | None:
    """Return why an archive member must not be unpacked into a release (``None`` when it may): an absolute path, a
    path through ``..``, or a hard link outside the archive's own tree."""
    normalized = posixpath.normpath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "%s: an absolute path" % name
    if normalized == ".." or normalized.startswith("../"):
        return "%s: a path outside the release" % name
    if link_target is not None:
        target = posixpath.normpath(link_target)
        if link_target.startswith("/") or target == ".." or target.startswith("../"):
            return "%s: a hard link to %s, outside the release" % (name, link_target)
    return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in re.split(r"[.+-]", version.strip()):
        match = re.match(r"^(\d+)", piece)
        if not match:
            break
        parts.append(int(match.group(1)))
    return tuple(parts)


def server_version_problem(server: str, version: str, minimum: str, default_package: str) -> str | None:
    """Return why the server ``version`` installed in a release's venv cannot run a slot, or ``None``."""
    if not version.strip():
        return (
            "The release's venv has no %s: add it to the application's requirements, or leave it out of them to get %s."
            % (server, default_package)
        )
    if minimum and _version_tuple(version) < _version_tuple(minimum):
        return (
            "The release installs %s %s, but the slots need %s %s or later (the setting wsgi_app of the generated "
            "configuration, socket activation and readiness notification): raise the pin in the application's "
            "requirements, or remove it to get %s." % (server, version.strip(), server, minimum, default_package)
        )
    return None


def server_python_problem(server: str, venv_python: str, system_python: str) -> str | None:
    """Return why a release's venv cannot run under a server from the distribution's packages (its plugin is built
    for the system's python3), or ``None``."""
    if venv_python.strip() != system_python.strip():
        return (
            "The release's venv runs Python %s, but Debian's %s runs Python %s (/usr/bin/python3): build the venv with "
            "/usr/bin/python3 (python_venv_python), or choose app_server gunicorn or waitress."
            % (venv_python.strip(), server, system_python.strip())
        )
    return None


def marker(release: str, source: str) -> str:
    """Return the content of a release's markers."""
    return json.dumps({"id": release, "source": source}, indent=4, sort_keys=True) + "\n"


def static_plan(static_dir: str, static_folder: str, release_dir: str, config_checked: bool,
                named_exists: bool = False, declared_exists: bool = False) -> dict[str, t.Any]:
    """Return what nginx serves as the release's static files.

    ``static_dir``: ``auto`` (the folder the application declares, ``static_folder`` as the configuration check read
    it), empty (none) or a directory relative to the release. Returns ``link``: the target, relative to the release,
    of the link nginx serves with ``auto`` (``static`` when the check did not run, even before it exists; ``None``
    when the declared folder is outside the release or there is none), and ``problem``: why a named directory missing
    from the release stops the deploy (the application declares a static folder that exists), or ``None``.
    """
    if static_dir == "auto":
        link = None
        if static_folder and static_folder != release_dir:
            rel = posixpath.relpath(static_folder, release_dir)
            if rel != ".." and not rel.startswith("../"):
                link = rel
        if link is None and not config_checked:
            link = "static"
        return {"link": link, "problem": None}
    if not static_dir or named_exists or not declared_exists:
        # No static files at all (neither folder exists) pass: there is nothing to serve.
        return {"link": None, "problem": None}
    problem = "app_static_dir is '%s' but the release has no directory %s/%s." % (static_dir, release_dir, static_dir)
    if static_folder:
        problem += " The application serves its static files from %s: set app_static_dir to '%s', or to auto." % (
            static_folder, posixpath.relpath(static_folder, release_dir))
    else:
        problem += " Set app_static_dir to the static folder relative to the release, or to auto."
    return {"link": None, "problem": problem}


def hook_command(hook: t.Any) -> str:
    """Return the command of a hook: a string, or the ``cmd`` of a ``{cmd, creates}`` item."""
    return hook["cmd"] if isinstance(hook, dict) else str(hook)


def init_marker_name(hook: t.Any) -> str:
    """Return the name of the marker an init hook leaves once it ran on a host: ``init-<sha1 of the command>``."""
    return "init-" + hashlib.sha1(hook_command(hook).encode("utf-8")).hexdigest()  # nosec - a name, not a secret


def hook_argv(app_name: str, release: str, release_dir: str, user: str, group: str, env_file: str,
              command: t.Sequence[str]) -> list[str]:
    """Return the command line that runs a hook as the app user in a transient unit of systemd that reads the
    environment file itself, as the slots do: the command line holds the hook and the file's path, never a value."""
    return [
        "systemd-run", "--wait", "--pipe", "--collect", "--quiet",
        "--description=%s release %s: hook" % (app_name, release),
        "--property=User=%s" % user,
        "--property=Group=%s" % group,
        "--property=WorkingDirectory=%s" % release_dir,
        "--property=EnvironmentFile=%s" % env_file,
        "--", "/usr/bin/env", "PATH=%s/.venv/bin:/usr/local/bin:/usr/bin:/bin" % release_dir,
    ] + list(command)


STDERR_CHARS = 600
"""How much of a failed step's stderr the message of a failed build shows."""


def failed_results(result: t.Mapping[str, t.Any]) -> list[t.Mapping[str, t.Any]]:
    """The failed results of a task's result: its ``results`` that failed (a loop), or the result itself."""
    items = result.get("results") if isinstance(result.get("results"), list) else [result]
    return [item for item in items if isinstance(item, t.Mapping) and item.get("failed")]


def build_failure(release: str, failed_in: str, result: t.Mapping[str, t.Any]) -> tuple[dict[str, t.Any], str]:
    """The ``<release>.failed`` report of a release whose build or hooks failed in the task ``failed_in`` (with the
    task's ``result``), and the message that stops the run.

    :returns: ``(report, message)``: the report is ``{release, failed_in, errors}``, each error the ``cmd``, ``rc``,
        ``msg`` and ``stderr`` a failed result has; the message names the release and the task and says the live
        release keeps serving, then each failed command, its message and the end of its stderr.
    """
    failed = failed_results(result)
    errors = [{key: item[key] for key in ("cmd", "rc", "msg", "stderr") if key in item} for item in failed]
    lines = [f"Release {release} failed in '{failed_in}' and was not activated; the live release keeps serving."]
    for item in failed:
        cmd = item.get("cmd") or ""
        cmd = cmd if isinstance(cmd, str) else " ".join(str(part) for part in cmd)
        lines.append(f"{cmd} -> {item.get('msg', '')}".strip())
        stderr = str(item.get("stderr") or "")
        if stderr:
            lines.append(stderr if len(stderr) <= STDERR_CHARS else stderr[:STDERR_CHARS - 3] + "...")
    return {"release": release, "failed_in": failed_in, "errors": errors}, "\n".join(lines)


# --- gate: the checks and hooks of a new release, with the environment it will run with ----------------------------

GATE_STEPS = ("finish", "stage_env", "config", "static", "hooks", "env")
"""The steps of ``state=gate``, in their order."""


def gate_steps(build: bool, prepare: bool, check_mode: bool, config_check: bool) -> list[str]:
    """Return the steps ``state=gate`` runs, in order.

    ``finish`` only for a release this run built; the configuration check and the static link need the release's
    code and venv, so check mode leaves them out for a release it would build; ``hooks`` only for a release that is
    not complete yet. The transient environment file is written (``stage_env``) and put in place (``env``) always,
    in check mode too (``env`` then compares and removes it).
    """
    would_build = check_mode and build
    wanted = {
        "finish": build,
        "stage_env": True,
        "config": config_check and not would_build,
        "static": not would_build,
        "hooks": prepare,
        "env": True,
    }
    return [step for step in GATE_STEPS if wanted[step]]


def as_user_argv(user: str, group: str, argv: t.Sequence[str]) -> list[str]:
    """Return ``argv`` run as ``user``:``group`` and the user's supplementary groups (``setpriv``, from root): the
    configuration check imports the application with the rights its slots have, not root's."""
    return ["setpriv", "--reuid=%s" % user, "--regid=%s" % group, "--init-groups", "--"] + list(argv)


def config_refusal(release: str, discarded: bool, live: bool, check_msg: str,
                   findings: t.Sequence[t.Mapping[str, t.Any]], hints: t.Mapping[str, str], hint_skip: str,
                   https: bool, https_setting: str, first_run: str = "") -> str:
    """The message that stops a deploy whose release the Flask configuration check refused.

    It says what did not happen (no slot started, nginx not switched, the slots' environment file not rewritten),
    whether the release was ``discarded`` (built by this run) and whether a ``live`` release keeps serving; then the
    check's message, a fix for each finding (its ``hints`` entry, else ``hint_skip``) and whether the HTTPS rules
    applied. ``first_run`` names what a first run may have changed (said only when nothing is live).
    """
    parts = [
        "Release %s was not activated: refused by the Flask configuration check%s." % (
            release, " and discarded" if discarded else ""),
        "No slot was started, nginx was not switched and the slots' environment file was not rewritten;",
        "the live release keeps serving." if live else "no release is live on this host.",
        "Earlier tasks of this run may have changed the host (see changed= in the recap%s)." % (
            "" if live or not first_run else "; on a first run: " + first_run),
        check_msg,
    ]
    return " ".join(part for part in parts + finding_fixes(findings, hints, hint_skip, https, https_setting) if part)


def finding_fixes(findings: t.Sequence[t.Mapping[str, t.Any]], hints: t.Mapping[str, str], hint_skip: str,
                  https: bool, https_setting: str) -> list[str]:
    """The end of a refusal's message: a fix for each finding (its ``hints`` entry, else ``hint_skip``) and whether
    the HTTPS rules applied."""
    parts = ["-- %s: Fix: %s %s" % (finding.get("id"), finding.get("remediation", ""),
                                    hints.get(str(finding.get("id")), hint_skip))
             for finding in findings]
    parts.append("-- HTTPS rules %s (app_config_check_https: %s)." % ("applied" if https else "not applied",
                                                                      https_setting))
    return parts


def live_refusal(app_name: str, release: str, check_msg: str, findings: t.Sequence[t.Mapping[str, t.Any]],
                 hints: t.Mapping[str, str], hint_skip: str, https: bool, https_setting: str) -> str:
    """The message of a live release whose Flask configuration the check refuses (the checks of validate.yml):
    nothing was changed, the check's message and a fix for each finding."""
    parts = ["The live release %s of %s is refused by the Flask configuration check (nothing was changed)." % (
        release, app_name), check_msg]
    return " ".join(part for part in parts + finding_fixes(findings, hints, hint_skip, https, https_setting) if part)


def finding_lines(findings: t.Sequence[t.Mapping[str, t.Any]], hints: t.Mapping[str, str], hint_skip: str) -> list[str]:
    """The findings of a passing configuration check (warnings), one line each: the rule id, the severity, the
    message, the fix and what to change in the inventory (its ``hints`` entry, else ``hint_skip``)."""
    return ["%s (%s): %s Fix: %s %s" % (finding.get("id"), finding.get("severity"), finding.get("message", ""),
                                        finding.get("remediation", ""), hints.get(str(finding.get("id")), hint_skip))
            for finding in findings]
