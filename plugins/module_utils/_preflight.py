# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""Pure helpers of the playbooks' preflight (``flaskops.deploy.preflight_vars`` and ``preflight_source``).

Unknown variables
    A variable the inventory or the extra vars set, whose name starts with the prefix of a role of this
    collection, is *unknown* to a play when

    * its prefix belongs to a role that takes part in the play (one the play validates, or one such a role
      includes itself) and none of the play's roles declares it in ``meta/argument_specs.yml``, counting a
      role included by another only for the inputs the including role does not set itself; or
    * no role of the collection declares it at all (a typo, whichever role it was meant for).

    A variable of a role that takes no part in the play (``ufw_rules`` given to ``deploy.yml``) is not
    reported: one inventory serves every playbook.

Source checks
    For a release from a directory or an archive on the controller: the requirements file exists, and the
    module of the WSGI entry point is ``module.py`` or ``module/__init__.py`` in the release's root.

Secret strength
    Each key of ``app_secrets`` whose name looks like a secret key, token or password (``is_secret_name``) must
    not be weak (``secret_weakness``): not a known placeholder, not too short, not of low entropy, not a repeated
    pattern. The messages name the key (``app_secrets.SECRET_KEY``) and why, never its value.

Apart from the secret strength check, nothing here reads a variable's value: only names are compared and reported.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import typing as t

from ansible_collections.flaskops.deploy.plugins.module_utils import _flask_config, _flask_facts

ROLE_PREFIXES: dict[str, str] = {
    "app_": "app",
    "python_venv_": "python_venv",
    "gunicorn_": "gunicorn",
    "waitress_": "waitress",
    "uwsgi_": "uwsgi",
    "systemd_": "systemd",
    "nginx_": "nginx",
    "iis_": "iis",
    "certbot_": "certbot",
    "ufw_": "ufw",
    "fail2ban_": "fail2ban",
    "backup_": "backup",
}

COLLECTION = "flaskops.deploy"
_INCLUDE_ACTIONS = {
    "include_role",
    "import_role",
    "ansible.builtin.include_role",
    "ansible.builtin.import_role",
    "ansible.legacy.include_role",
    "ansible.legacy.import_role",
}
_TASK_SECTIONS = ("block", "rescue", "always")
_WSGI = re.compile(r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<callable>[A-Za-z_]\w*)(?:\(.*\))?$")
PROJECT_FILES = ("pyproject.toml", "setup.py")


# ---------------------------------------------------------------------------------------------------- unknown variables


def declared_names(argument_specs: t.Mapping[str, t.Any] | None) -> set[str]:
    """The option names of every entry point of a role's ``meta/argument_specs.yml`` (its parsed content)."""
    names: set[str] = set()
    specs = (argument_specs or {}).get("argument_specs") or {}
    for entry_point in specs.values():
        names.update(((entry_point or {}).get("options") or {}).keys())
    return names


def missing_required(
    argument_specs: t.Mapping[str, t.Mapping[str, t.Any] | None],
    entry_points: t.Mapping[str, str] | None,
    defined: t.Container[str],
) -> dict[str, list[str]]:
    """The required top-level options (no default) of each role's entry point that are not defined at all.

    ``argument_specs`` maps a role to its parsed ``meta/argument_specs.yml``, ``entry_points`` a role to the entry
    point the play runs (``main`` otherwise), ``defined`` holds the names the host's variables define. Returns each
    missing name with the roles that require it, so the preflight names it before a role's defaults that derive from it
    (``app_user: "{{ app_name }}"``) fail to template with a message about something else.
    """
    missing: dict[str, list[str]] = {}
    for role, spec in argument_specs.items():
        entry = (entry_points or {}).get(role, "main")
        options = ((((spec or {}).get("argument_specs") or {}).get(entry) or {}).get("options")) or {}
        for name, option in options.items():
            option = option or {}
            if option.get("required") and "default" not in option and name not in defined:
                missing.setdefault(name, []).append(role)
    return dict(sorted(missing.items()))


def missing_required_message(missing: t.Mapping[str, t.Sequence[str]]) -> str:
    """One line naming every missing required variable and the roles that need it."""
    names = ", ".join(missing)
    needs = "; ".join("%s (roles: %s)" % (name, ", ".join(roles)) for name, roles in missing.items())
    return "missing required arguments: %s. Set them in the inventory or as extra vars: %s" % (names, needs)


def role_of(name: str, prefixes: t.Mapping[str, str] | None = None) -> str | None:
    """The role whose prefix ``name`` starts with (the longest prefix wins), or None."""
    prefixes = ROLE_PREFIXES if prefixes is None else prefixes
    matches = [prefix for prefix in prefixes if name.startswith(prefix)]
    if not matches:
        return None
    return prefixes[max(matches, key=len)]


def _short_role_name(name: t.Any) -> str | None:
    """``flaskops.deploy.systemd`` or ``systemd`` -> ``systemd``; templated or foreign names -> None."""
    if not isinstance(name, str) or "{" in name:
        return None
    if name.startswith(COLLECTION + "."):
        return name[len(COLLECTION) + 1:]
    if "." in name:
        return None
    return name


def role_includes(tasks: t.Iterable[t.Any] | None) -> list[tuple[str, set[str]]]:
    """Each static ``include_role``/``import_role`` of this collection in a task list: (role, variables it sets).

    Blocks are walked. A role named by a template (``flaskops.deploy.{{ app_server }}``) is left out: its
    name is not known before the play runs.
    """
    found: list[tuple[str, set[str]]] = []
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        for section in _TASK_SECTIONS:
            if isinstance(task.get(section), list):
                found.extend(role_includes(task[section]))
        for action in _INCLUDE_ACTIONS & set(task):
            args = task[action]
            role = _short_role_name(args.get("name") if isinstance(args, dict) else args)
            if role is not None:
                found.append((role, set((task.get("vars") or {}).keys())))
    return found


def set_internally(includes: t.Iterable[tuple[str, set[str]]]) -> dict[str, set[str]]:
    """For each included role, the variables that every one of its includes sets (the includer owns them)."""
    result: dict[str, set[str]] = {}
    for role, names in includes:
        result[role] = result[role] & names if role in result else set(names)
    return result


class PlayScope(t.NamedTuple):
    """What a play's roles declare."""

    roles: list[str]
    """The roles the play validates, in order."""
    included: dict[str, list[str]]
    """Roles included by the play's roles (and not validated by the play themselves): role -> its includers."""
    known: set[str]
    """Names declared by the play's roles, and by the roles they include, less what the includers set."""
    owned: dict[str, tuple[str, str]]
    """Names an includer sets itself: name -> (includer, included role)."""
    prefixes: set[str]
    """The prefixes of the roles that take part in the play."""


def play_scope(
    play_roles: t.Iterable[str],
    declared: t.Mapping[str, set[str]],
    includes: t.Mapping[str, t.Iterable[tuple[str, set[str]]]],
    prefixes: t.Mapping[str, str] | None = None,
) -> PlayScope:
    """Collect what a play's roles declare.

    ``declared`` maps each role of the collection to its declared names, ``includes`` maps a role to its
    static role includes (``role_includes``). Includes are followed transitively.
    """
    prefixes = ROLE_PREFIXES if prefixes is None else prefixes
    roles = list(dict.fromkeys(play_roles))
    known: set[str] = set()
    for role in roles:
        known |= declared.get(role, set())
    included: dict[str, list[str]] = {}
    owned: dict[str, tuple[str, str]] = {}
    queue = list(roles)
    seen = set(roles)
    while queue:
        includer = queue.pop(0)
        for role, internal in set_internally(includes.get(includer, [])).items():
            if role in roles:
                continue
            included.setdefault(role, [])
            if includer not in included[role]:
                included[role].append(includer)
            for name in declared.get(role, set()):
                if name in internal:
                    owned.setdefault(name, (includer, role))
                else:
                    known.add(name)
            if role not in seen:
                seen.add(role)
                queue.append(role)
    owned = {name: owner for name, owner in owned.items() if name not in known}
    taking_part = set(roles) | set(included)
    scope_prefixes = {prefix for prefix, role in prefixes.items() if role in taking_part}
    return PlayScope(roles, included, known, owned, scope_prefixes)


def collection_names(declared: t.Mapping[str, set[str]]) -> dict[str, list[str]]:
    """Every name some role of the collection declares -> the roles that declare it."""
    owners: dict[str, list[str]] = {}
    for role in sorted(declared):
        for name in declared[role]:
            owners.setdefault(name, []).append(role)
    return owners


def unknown_names(
    names: t.Iterable[str],
    scope: PlayScope,
    declared: t.Mapping[str, set[str]],
    prefixes: t.Mapping[str, str] | None = None,
) -> list[str]:
    """The names (sorted) the play does not know, by the rule in this module's docstring."""
    prefixes = ROLE_PREFIXES if prefixes is None else prefixes
    owners = collection_names(declared)
    unknown = set()
    for name in names:
        if not isinstance(name, str) or role_of(name, prefixes) is None or name in scope.known:
            continue
        in_scope = any(name.startswith(prefix) for prefix in scope.prefixes)
        if in_scope or name not in owners:
            unknown.add(name)
    return sorted(unknown)


def suggest(name: str, candidates: t.Iterable[str], cutoff: float = 0.75) -> str | None:
    """The closest candidate name (difflib), or None."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def looked_in(scope: PlayScope) -> str:
    """``app, gunicorn; python_venv (included by app), systemd (included by app)`` (included roles sorted)."""
    text = ", ".join(scope.roles) if scope.roles else "no role"
    if scope.included:
        text += "; " + ", ".join(
            "%s (included by %s)" % (role, " and ".join(scope.included[role])) for role in sorted(scope.included)
        )
    return text


def unknown_message(
    name: str,
    sources: t.Iterable[str],
    scope: PlayScope,
    declared: t.Mapping[str, set[str]],
    prefixes: t.Mapping[str, str] | None = None,
) -> str:
    """One line about one unknown variable: where it was set, where it was looked for, what was meant.

    Only the name is used, never the value.
    """
    prefixes = ROLE_PREFIXES if prefixes is None else prefixes
    where = " and ".join(sources) or "the inventory"
    message = "%s is set by %s, but no role of this play declares it (looked in %s)" % (name, where, looked_in(scope))
    if name in scope.owned:
        includer, role = scope.owned[name]
        return message + "; %s sets %s itself when it includes %s, so this value is not used." % (includer, name, role)
    owners = collection_names(declared)
    if name in owners:
        return message + "; it is an input of %s, which this play does not run." % ", ".join(owners[name])
    # A typo, possibly meant for a role that takes no part in this play.
    role = role_of(name, prefixes)
    candidates = set(scope.known) | {other for other in owners if role_of(other, prefixes) == role}
    guess = suggest(name, candidates)
    if guess:
        return message + ". Did you mean %s?" % guess
    return message + "."


# ---------------------------------------------------------------------------------------------------- source checks


def wsgi_module(app_wsgi: str) -> str:
    """The module of a ``module:callable`` entry point; ValueError when it has another form."""
    match = _WSGI.match((app_wsgi or "").strip())
    if not match:
        raise ValueError(
            "app_wsgi must be module:callable (the module may be dotted, the callable a factory call such as "
            "create_app()), got '%s'" % app_wsgi
        )
    return match.group("module")


def wsgi_candidates(module: str) -> list[str]:
    """Release-relative files that provide a module: ``pkg/sub.py`` and ``pkg/sub/__init__.py``."""
    base = module.replace(".", "/")
    return [base + ".py", posixpath.join(base, "__init__.py")]


def normalize_member(name: str) -> str:
    """An archive member name as a release-relative POSIX path (``./a/b/`` -> ``a/b``)."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


def single_top_directory(members: t.Iterable[str]) -> str | None:
    """The one directory every member lies under, when there is one (``hello_app/`` packed as a whole)."""
    tops = {member.split("/", 1)[0] for member in members if member}
    nested = all("/" in member or member in tops for member in members if member)
    if len(tops) == 1 and nested and any("/" in member for member in members):
        return tops.pop()
    return None


def check_source(
    exists: t.Callable[[str], bool],
    source_var: str,
    source: str,
    requirements_file: str,
    app_wsgi: str,
    install_project: bool = False,
    top_level: t.Iterable[str] = (),
    wrapper_dir: str | None = None,
) -> list[str]:
    """The problems of a release source, as messages naming the inventory variable to change.

    ``exists(path)`` tells whether a release-relative file exists in the source. ``top_level`` lists the
    source's top-level Python modules and packages (for a hint), ``wrapper_dir`` the single directory an
    archive was packed under, if so.
    """
    problems: list[str] = []
    where = "%s (%s)" % (source, source_var)
    hint = ""
    if wrapper_dir:
        hint = (
            " Every file of the archive is under %s/: pack the directory's content instead (tar -C %s -czf ... .),"
            " the archive is unpacked as the release's root." % (wrapper_dir, wrapper_dir)
        )
    requirements = normalize_member(requirements_file or "")
    if requirements and not exists(requirements):
        message = "app_requirements_file is '%s' but %s has no such file." % (requirements_file, where)
        project = [name for name in PROJECT_FILES if exists(name)]
        if project:
            message += (
                " It has a %s: to install the project itself instead, set app_requirements_file: \"\" and"
                " app_install_project: true." % " and a ".join(project)
            )
        else:
            message += " Set app_requirements_file to the requirements file (relative to the source), or to \"\" for none."
        problems.append(message + hint)
    try:
        module = wsgi_module(app_wsgi)
    except ValueError as exc:
        problems.append(str(exc) + ".")
        return problems
    if install_project:
        # The installed project may provide the module from anywhere its packaging says (src/ layouts).
        return problems
    candidates = wsgi_candidates(module)
    if not any(exists(path) for path in candidates):
        message = "app_wsgi is '%s' but %s has neither %s nor %s." % (app_wsgi, where, candidates[0], candidates[1])
        available = sorted(set(top_level))
        if module.endswith(".py") and any(exists(path) for path in wsgi_candidates(module[:-3])):
            message += " app_wsgi names a module, not a file: did you mean '%s'?" % app_wsgi.strip().replace(".py:", ":", 1)
        elif available:
            message += " Its top-level modules: %s." % ", ".join(available[:10])
        message += " Set app_wsgi to module:callable of the application's WSGI entry point."
        problems.append(message + hint)
    return problems


def top_level_modules(paths: t.Iterable[str]) -> list[str]:
    """Top-level Python modules and packages among release-relative file paths (for hints)."""
    found = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) == 1 and parts[0].endswith(".py") and parts[0] not in ("setup.py", "conftest.py"):
            found.add(parts[0][:-3])
        elif len(parts) == 2 and parts[1] == "__init__.py":
            found.add(parts[0])
    return sorted(found)


def archive_members(path: str) -> list[str]:
    """The release-relative member names of a tar (any compression) or zip archive; ValueError for others."""
    import tarfile
    import zipfile

    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            names = archive.getnames()
    else:
        raise ValueError("not a tar or zip archive")
    return [member for member in (normalize_member(name) for name in names) if member]


def directory_files(root: str, depth: int = 1) -> list[str]:
    """Release-relative paths of a directory's files down to ``depth`` levels (for the top-level module hint)."""
    import os

    found = []
    for name in sorted(os.listdir(root)):
        full = os.path.join(root, name)
        if os.path.isfile(full):
            found.append(name)
        elif depth > 0 and os.path.isdir(full):
            found.extend(name + "/" + sub for sub in directory_files(full, depth - 1))
    return found


SOURCE_VARS = {"path": "app_source_path", "archive": "app_source_archive"}
"""The inventory variable of each source type checked on the controller."""


def resolve_source(source_type: str, source: str, find: t.Callable[[str], str | None] | None = None) -> str | None:
    """The source on the controller, found the way the app role finds it (None when it does not exist).

    ``find(source)`` looks for a relative archive where ``ansible.builtin.unarchive`` looks too (the role's
    ``files/``, next to the playbook) and returns its path or None.
    """
    import os

    path = os.path.expanduser(source)
    if os.path.exists(path):
        return os.path.abspath(path)
    if source_type == "archive" and find is not None:
        return find(source)
    return None


def source_problems(
    source_type: str,
    source: str,
    resolved: str | None,
    requirements_file: str,
    app_wsgi: str,
    install_project: bool = False,
) -> list[str]:
    """The problems of the source ``source`` of type ``source_type`` (``path`` or ``archive``), found on the
    controller at ``resolved`` (None: not found): a directory's files or an archive's member list are read, then
    checked with :func:`check_source`. Each message names the inventory variable to change."""
    import os

    source_var = SOURCE_VARS[source_type]
    if resolved is None:
        return ["%s is '%s' but it does not exist on the controller" % (source_var, source)]
    wrapper = None
    if source_type == "path":
        if not os.path.isdir(resolved):
            return ["%s is '%s' but it is not a directory on the controller" % (source_var, source)]

        def exists(relative: str) -> bool:
            return os.path.isfile(os.path.join(resolved, relative))

        listing = directory_files(resolved)
    else:
        try:
            members = archive_members(resolved)
        except (OSError, ValueError, EOFError) as exc:
            return ["%s is '%s' but it cannot be read: %s" % (source_var, source, exc)]
        exists = set(members).__contains__
        listing = members
        wrapper = single_top_directory(members)
    return check_source(
        exists,
        source_var,
        source,
        requirements_file,
        app_wsgi,
        install_project=install_project,
        top_level=top_level_modules(listing),
        wrapper_dir=wrapper,
    )


# ---------------------------------------------------------------------------------------------------- secret strength

# Which app_secrets names are checked: upper-cased, a name that contains SECRET, or whose last word (after the last
# underscore, or the whole name) is KEY, TOKEN, PASSWORD, PASSWD or PASSPHRASE. FLASK_SECRET_KEY, API_TOKEN,
# MAIL_PASSWORD and KEY are checked; DATABASE_URL, MAIL_USERNAME and APIKEY are not.
SECRET_NAME = re.compile(r"SECRET|(?:^|_)(?:KEY|TOKEN|PASSWORD|PASSWD|PASSPHRASE)$")
PASSWORD_NAME = re.compile(r"(?:^|_)(?:PASSWORD|PASSWD|PASSPHRASE)$")
# Minimum length in bytes (UTF-8): keys, tokens and other secrets as long as the config check wants the SECRET_KEY;
# passwords, often issued by another service (an SMTP provider's application password), 16.
SECRET_MIN_BYTES = _flask_config.SECRET_KEY_MIN_BYTES
PASSWORD_MIN_BYTES = 16
# Shannon entropy per character, the measure and the threshold of the config check's secret-key-low-entropy rule.
SECRET_MIN_ENTROPY = _flask_config.SECRET_KEY_MIN_ENTROPY


def is_secret_name(name: str) -> bool:
    """Whether an ``app_secrets`` key looks like a secret key, token or password (the rule above)."""
    return bool(SECRET_NAME.search(str(name).upper()))


def min_secret_bytes(name: str) -> int:
    """The minimum length of the secret named ``name``."""
    return PASSWORD_MIN_BYTES if PASSWORD_NAME.search(str(name).upper()) else SECRET_MIN_BYTES


def repeated_unit(value: str) -> int:
    """The length of the shortest unit the whole value repeats (``abcabcabc`` -> 3), or 0 when it repeats none."""
    size = len(value)
    for unit in range(1, size // 2 + 1):
        if size % unit == 0 and value[:unit] * (size // unit) == value:
            return unit
    return 0


def secret_weakness(name: str, value: t.Any) -> str | None:
    """Why the secret ``name`` with ``value`` is weak, or None when it is not; the value itself is never quoted.

    Weak: a known placeholder (the config check's list: ``changeme``, ``dev``, ``your-secret-key``, ...), shorter
    than ``min_secret_bytes(name)`` bytes, under ``SECRET_MIN_ENTROPY`` bits of Shannon entropy per character, or
    one short unit repeated. Values that are not strings are read as their text (``12`` as ``"12"``).
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text and _flask_facts.is_placeholder(text):
        return "is a well-known placeholder"
    length = len(text.encode("utf-8"))
    minimum = min_secret_bytes(name)
    if length < minimum:
        return "is %d bytes long, shorter than %d" % (length, minimum)
    entropy = abs(_flask_facts.shannon_entropy(text))  # abs: no "-0.00" for a single repeated character
    if entropy < SECRET_MIN_ENTROPY:
        return "has %.2f bits of entropy per character, less than %.1f: a word or a pattern, not random data" % (
            entropy,
            SECRET_MIN_ENTROPY,
        )
    unit = repeated_unit(text)
    if unit:
        return "repeats the same %d characters: a pattern, not random data" % unit
    return None


class SecretReport(t.NamedTuple):
    """What ``check_secrets`` found; names only, never values."""

    checked: list[str]
    """The names that look like secrets and were checked."""
    allowed: list[str]
    """The names that look like secrets but are allowed to be weak (the opt-out list)."""
    problems: list[str]
    """One message per weak secret, naming the inventory variable (``app_secrets.SECRET_KEY``)."""


def check_secrets(
    secrets: t.Mapping[str, t.Any] | None,
    allow_weak: t.Iterable[str] = (),
    variable: str = "app_secrets",
    opt_out: str = "app_secrets_allow_weak",
) -> SecretReport:
    """Check every key of ``secrets`` that looks like a secret (``is_secret_name``) with ``secret_weakness``."""
    allowed_names = set(allow_weak or ())
    checked, allowed, problems = [], [], []
    for name in sorted(secrets or {}, key=str):
        if not is_secret_name(name):
            continue
        if name in allowed_names:
            allowed.append(name)
            continue
        checked.append(name)
        weakness = secret_weakness(name, (secrets or {})[name])
        if weakness:
            problems.append(
                "%s.%s %s. Set a random value (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                "vaulted, or list %s in %s if it cannot change." % (variable, name, weakness, name, opt_out)
            )
    return SecretReport(checked, allowed, problems)
