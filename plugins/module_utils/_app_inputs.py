# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The checks of the ``app`` role's inputs (``tasks/validate.yml``, action ``flaskops.deploy.app_inputs``), as pure
functions.

Each ``check_*`` function takes values of the role's variables and returns one message per problem (an empty list
when there is none); every message names the inventory variable to change. :func:`check` runs them all, with the
strength of ``app_secrets`` (``_preflight.check_secrets``), the paths and sources of ``app_shared_files`` and the checks of ``app_processes`` and ``app_timers``
(``_processes.check``, and ``_processes.calendar_problems`` when given a way to ask systemd), and reports every
problem found, not only the first.

No message quotes a value of ``app_secrets``, the content of an ``app_shared_files`` item or the URL in
``app_git_repo``: only names, paths and settings.
"""

from __future__ import annotations

import re
import typing as t

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.flaskops.deploy.plugins.module_utils import _preflight, _processes

NAME = re.compile(r"[a-z][a-z0-9_-]*")
"""``app_name``: the prefix of the user, the units, the directories."""

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A key of ``app_env`` or ``app_secrets``: an environment variable's name."""

GIT_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@")
"""An ``app_git_repo`` URL with a password or token in it (``https://user:secret@host/...``)."""

SECRET_FILE_MODE = re.compile(r"0?[0-7]{2}0")
"""The mode of an ``app_shared_files`` item with ``secret: true``: nothing for other users."""

SOCKET_MODE = re.compile(r"0?[0-7]{3}")
"""``app_socket_mode``: an octal mode."""

SOURCE_SETTINGS = {"path": "app_source_path", "archive": "app_source_archive", "git": "app_git_repo and app_git_version"}
"""What each ``app_source_type`` needs set."""

SLOT_LISTEN = ("unix", "tcp")
SWITCHES = ("auto", "nginx", "none")
DEFAULT_SHARED_FILE_MODE = "0640"
SHARED_FILE_SOURCES = ("content", "template", "src")


def to_int(value: t.Any, default: int = 0) -> int:
    """``value`` as Jinja2's ``int`` filter reads it (``"8001"`` -> 8001, ``"8001.0"`` -> 8001, ``"x"`` -> default)."""
    try:
        if isinstance(value, str):
            return int(value, 10)
        return int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def _is_true(value: t.Any) -> bool:
    """A ``secret`` flag: a boolean, or a string or number Ansible reads as one (``"yes"``, ``1``)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return boolean(value, strict=False)
    return bool(value)


def check_name(app_name: t.Any) -> list[str]:
    if isinstance(app_name, str) and NAME.fullmatch(app_name):
        return []
    return ["app_name must match ^%s$ (got '%s')" % (NAME.pattern, app_name)]


def check_source_settings(source_type: str, source_path: str, source_archive: str, git_repo: str,
                          git_version: str) -> list[str]:
    """The variable the source type needs is set (``app_source_path``, ``app_source_archive``, or ``app_git_repo``
    and ``app_git_version``)."""
    missing = {
        "path": not source_path,
        "archive": not source_archive,
        "git": not (git_repo and git_version),
    }.get(source_type, False)
    if not missing:
        return []
    return ["app_source_type is '%s' but its source is not set: set %s" % (source_type, SOURCE_SETTINGS[source_type])]


def check_git_credentials(git_repo: str, app_root: str) -> list[str]:
    """git gets the URL on its command line and keeps it in repo.git/config: a password or token in it would leak.
    The message never quotes the URL."""
    if not git_repo or not GIT_CREDENTIALS.match(git_repo):
        return []
    config = "%s/repo.git/config" % app_root.rstrip("/") if app_root else "the repo.git/config of app_root"
    return [
        "app_git_repo holds a password or token (https://user:secret@...): git would show it on its command line and "
        "keep it in %s. Use an SSH deploy key (git@host:org/repo.git) or a credential helper." % config
    ]


def check_keep_releases(keep_releases: t.Any) -> list[str]:
    if to_int(keep_releases) >= 2:
        return []
    return ["app_keep_releases must be at least 2 (the live release and one to roll back to), got %s" % keep_releases]


def check_env_names(env: t.Mapping[str, t.Any] | None, secrets: t.Mapping[str, t.Any] | None) -> list[str]:
    """The keys of ``app_env`` and ``app_secrets`` are environment variable names. Names only: no value is read."""
    bad = ["%s (%s)" % (name, variable)
           for variable, mapping in (("app_env", env), ("app_secrets", secrets))
           for name in sorted(mapping or {}, key=str)
           if not ENV_NAME.fullmatch(str(name))]
    if not bad:
        return []
    return ["app_env and app_secrets keys must be environment variable names ([A-Za-z_][A-Za-z0-9_]*), got %s"
            % ", ".join(bad)]


def check_shared_files(shared_files: t.Iterable[t.Mapping[str, t.Any]] | None) -> list[str]:
    """Each ``app_shared_files`` item names a path relative to ``shared/`` (not absolute, no ``..``) and exactly one
    of ``content``, ``template`` and ``src``. One message per bad item, naming its path and sources, never content."""
    problems = []
    for index, item in enumerate(shared_files or []):
        path = str(item.get("path") or "")
        sources = [key for key in SHARED_FILE_SOURCES if key in item]
        parts = path.split("/")
        if path and not path.startswith("/") and ".." not in parts and len(sources) == 1:
            continue
        problems.append(
            "app_shared_files[%d]: each item needs a path relative to app_root/shared (no '..') and exactly one of "
            "content, template or src; got path '%s' with %s" % (index, path, ", ".join(sources) or "none of them"))
    return problems


def check_secret_file_modes(shared_files: t.Iterable[t.Mapping[str, t.Any]] | None) -> list[str]:
    """An ``app_shared_files`` item with ``secret: true`` is not accessible to other users (its mode, ``0640`` when
    not set, ends in 0). The message names the files and their modes, never their content."""
    bad = []
    for item in shared_files or []:
        if not _is_true(item.get("secret", False)):
            continue
        mode = str(item.get("mode", DEFAULT_SHARED_FILE_MODE))
        if not SECRET_FILE_MODE.fullmatch(mode):
            bad.append((str(item.get("path", "")), mode))
    if not bad:
        return []
    return [
        "app_shared_files: a file with secret true must not be accessible to other users (mode like 0640 or 0600), got "
        "%s with modes %s" % (", ".join(path for path, dummy in bad), ", ".join(mode for dummy, mode in bad))
    ]


def check_slots(slot_listen: str, slot_tcp_ports: t.Mapping[str, t.Any] | None) -> list[str]:
    """The slots listen on a unix socket, or on TCP with two different ports for blue and green."""
    ports = slot_tcp_ports or {}
    blue, green = to_int(ports.get("blue", 0)), to_int(ports.get("green", 0))
    if slot_listen == "unix" or (slot_listen == "tcp" and blue > 0 and green > 0 and blue != green):
        return []
    return [
        "app_slot_listen must be unix or tcp, and with tcp app_slot_tcp_ports needs two different ports for blue and "
        "green (got %s, %s)" % (slot_listen, slot_tcp_ports)
    ]


def check_socket_mode(socket_mode: t.Any) -> list[str]:
    if SOCKET_MODE.fullmatch(str(socket_mode)):
        return []
    return ["app_socket_mode must be an octal mode string such as \"0660\", got '%s'" % socket_mode]


def check_switch(switch: str, health_path: str) -> list[str]:
    problems = []
    if switch not in SWITCHES:
        problems.append("app_switch must be auto, nginx or none (got '%s')" % switch)
    if not str(health_path or "").startswith("/"):
        problems.append("app_health_path must start with / (got '%s')" % health_path)
    return problems


def check_processes(app_name: str, processes: list[dict[str, t.Any]], timers: list[dict[str, t.Any]],
                    read_calendar: t.Callable[[str], str | None] | None = None) -> list[str]:
    """``app_processes`` and ``app_timers``, when there are any (``_processes.check``); each ``on_calendar`` read by
    ``read_calendar`` (``systemd-analyze calendar``: its complaint, or None) when it is given."""
    if not processes and not timers:
        return []
    problems = _processes.check(app_name, processes, timers)
    if read_calendar is not None:
        problems += _processes.calendar_problems(timers, read_calendar)
    return problems


class Report(t.NamedTuple):
    """What :func:`check` found; names only, never a secret's value."""

    problems: list[str]
    """One message per problem, in the order of the checks."""
    secrets_checked: list[str]
    """The ``app_secrets`` names whose strength was checked."""
    secrets_allowed: list[str]
    """The ``app_secrets`` names that look like secrets but are in ``app_secrets_allow_weak``."""


def check(inputs: t.Mapping[str, t.Any], read_calendar: t.Callable[[str], str | None] | None = None) -> Report:
    """Every check of the role's inputs, named as the role's variables (``inputs["app_name"]``, ...).

    ``read_calendar`` asks systemd whether it reads a calendar expression (see :func:`check_processes`); the
    source's content on the controller is checked apart (``_preflight.source_problems``).
    """
    secrets = inputs.get("app_secrets") or {}
    report = _preflight.check_secrets(secrets, inputs.get("app_secrets_allow_weak") or [])
    checks = [
        check_name(inputs.get("app_name")),
        check_source_settings(inputs.get("app_source_type", "path"), inputs.get("app_source_path") or "",
                              inputs.get("app_source_archive") or "", inputs.get("app_git_repo") or "",
                              inputs.get("app_git_version") or ""),
        check_git_credentials(inputs.get("app_git_repo") or "", inputs.get("app_root") or ""),
        check_keep_releases(inputs.get("app_keep_releases", 5)),
        check_env_names(inputs.get("app_env"), secrets),
        check_shared_files(inputs.get("app_shared_files")),
        check_secret_file_modes(inputs.get("app_shared_files")),
        report.problems,
        check_slots(inputs.get("app_slot_listen", "unix"), inputs.get("app_slot_tcp_ports")),
        check_socket_mode(inputs.get("app_socket_mode", "0660")),
        check_switch(inputs.get("app_switch", "auto"), inputs.get("app_health_path", "/health")),
        check_processes(inputs.get("app_name") or "", inputs.get("app_processes") or [],
                        inputs.get("app_timers") or [], read_calendar),
    ]
    problems = [problem for found in checks for problem in found]
    return Report(problems, report.checked, report.allowed)
