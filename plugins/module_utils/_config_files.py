# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""Pure logic of flaskops.deploy.config_files: what each entry needs on the host, applying it, putting it back.

An entry is a dict: ``path``, ``state`` (file, directory, link, absent, lines), ``content`` (bytes, state file),
``src`` (link target), ``regexp`` and ``line`` (state lines), ``mode`` (int), ``uid`` and ``gid`` (ints or None),
``hide_content``. ``plan`` compares the entries with the host and returns the changes; ``apply`` makes them, in
order, and returns what each path was before; ``restore`` puts those paths back.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
import tempfile

STATES = ("file", "directory", "link", "absent", "lines")


class ConfigFilesError(Exception):
    """An entry that cannot be applied (the message names the path)."""


def parse_mode(value, path):
    """An octal mode from "0644", 0o644 or None."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        if not re.match(r"^0?[0-7]{3,4}$", text):
            raise ConfigFilesError("%s: mode %r is not an octal mode such as \"0644\"" % (path, value))
        mode = int(text, 8)
    if mode < 0 or mode > 0o7777:
        raise ConfigFilesError("%s: mode %r is out of range" % (path, value))
    return mode


def resolve_user(name, path):
    if name is None or name == "":
        return None
    if str(name).isdigit():
        return int(name)
    try:
        return pwd.getpwnam(str(name)).pw_uid
    except KeyError:
        raise ConfigFilesError("%s: no user %r on the host" % (path, name))


def resolve_group(name, path):
    if name is None or name == "":
        return None
    if str(name).isdigit():
        return int(name)
    try:
        return grp.getgrnam(str(name)).gr_gid
    except KeyError:
        raise ConfigFilesError("%s: no group %r on the host" % (path, name))


def read_state(path):
    """What is at ``path``: kind (absent, file, link, directory, other), and content, target, mode, uid, gid."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"kind": "absent"}
    attrs = {"mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}
    if stat.S_ISLNK(info.st_mode):
        return dict(attrs, kind="link", target=os.readlink(path))
    if stat.S_ISDIR(info.st_mode):
        return dict(attrs, kind="directory")
    if stat.S_ISREG(info.st_mode):
        with open(path, "rb") as handle:
            return dict(attrs, kind="file", content=handle.read())
    return dict(attrs, kind="other")


def edit_lines(text, regexp, line):
    """Every line that ``regexp`` matches becomes ``line`` with the match's back-references expanded.

    Lines that do not match stay as they are; a file no line of which matches is left unchanged.
    """
    pattern = re.compile(regexp)
    out = []
    for old in text.splitlines(True):
        body = old.rstrip("\r\n")
        match = pattern.search(body)
        if match:
            out.append(match.expand(line) + old[len(body):])
        else:
            out.append(old)
    return "".join(out)


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _attrs_differ(current, entry):
    reasons = []
    if entry.get("mode") is not None and current.get("mode") != entry["mode"]:
        reasons.append("mode")
    if entry.get("uid") is not None and current.get("uid") != entry["uid"]:
        reasons.append("owner")
    if entry.get("gid") is not None and current.get("gid") != entry["gid"]:
        reasons.append("group")
    return reasons


def plan_entry(entry, current):
    """The change one entry needs, or None: a dict with the entry's action, the reasons and the new content."""
    path, state = entry["path"], entry.get("state") or "file"
    kind = current["kind"]
    if state == "directory":
        if kind == "absent":
            return {"action": "mkdir", "reasons": ["missing"]}
        if kind != "directory":
            raise ConfigFilesError("%s exists and is not a directory (%s)" % (path, kind))
        reasons = _attrs_differ(current, entry)
        return {"action": "attrs", "reasons": reasons} if reasons else None
    if state == "absent":
        if kind == "absent":
            return None
        if kind == "directory":
            raise ConfigFilesError("%s is a directory: state absent removes files and links only" % path)
        return {"action": "remove", "reasons": ["present"]}
    if kind == "directory":
        raise ConfigFilesError("%s is a directory: state %s needs a file or nothing there" % (path, state))
    if state == "link":
        if kind == "link" and current["target"] == entry["src"]:
            return None
        return {"action": "link", "reasons": ["missing" if kind == "absent" else "target"]}
    if state == "lines":
        if kind != "file":
            raise ConfigFilesError("%s does not exist as a regular file: state lines edits an existing file" % path)
        old = current["content"].decode("utf-8", errors="surrogateescape")
        try:
            new = edit_lines(old, entry["regexp"], entry["line"])
        except re.error as error:
            raise ConfigFilesError("%s: regexp %r or line %r: %s" % (path, entry["regexp"], entry["line"], error))
        if new == old:
            return None
        content = new.encode("utf-8", errors="surrogateescape")
        return {"action": "write", "reasons": ["content"], "content": content}
    if state != "file":
        raise ConfigFilesError("%s: unknown state %r (one of %s)" % (path, state, ", ".join(STATES)))
    content = entry["content"]
    if kind != "file":
        return {"action": "write", "reasons": ["missing" if kind == "absent" else "kind"], "content": content}
    reasons = (["content"] if current["content"] != content else []) + _attrs_differ(current, entry)
    if not reasons:
        return None
    return {"action": "write" if "content" in reasons else "attrs", "reasons": reasons, "content": content}


def plan(entries, read=read_state):
    """The changes the entries need, in their order: dicts with path, entry, before (read_state) and the change."""
    changes = []
    seen = set()
    for entry in entries:
        path = entry["path"]
        if not os.path.isabs(path):
            raise ConfigFilesError("%s: the path must be absolute" % path)
        if path in seen:
            raise ConfigFilesError("%s is listed twice" % path)
        seen.add(path)
        before = read(path)
        change = plan_entry(entry, before)
        if change:
            changes.append(dict(change, path=path, entry=entry, before=before))
    return changes


def _chown(path, uid, gid, follow=True):
    if uid is None and gid is None:
        return
    uid = -1 if uid is None else uid
    gid = -1 if gid is None else gid
    if follow:
        os.chown(path, uid, gid)
    else:
        os.lchown(path, uid, gid)


def write_file(path, content, mode=None, uid=None, gid=None):
    """Write ``content`` to ``path`` atomically (a temporary file in the same directory renamed over it)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode if mode is not None else (0o666 & ~_umask()))
        _chown(tmp, uid, gid)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def make_link(path, target):
    """Point the symbolic link ``path`` at ``target`` atomically (replacing a file or another link)."""
    tmp = os.path.join(os.path.dirname(path) or ".", ".%s.%d.link" % (os.path.basename(path), os.getpid()))
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _missing_parents(path):
    missing = []
    current = path
    while current and not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return list(reversed(missing))


def apply_change(change):
    """Make one change; return the directories it created (they are removed again by ``restore``)."""
    path, entry, action = change["path"], change["entry"], change["action"]
    before = change["before"]
    created = []
    if action == "mkdir":
        created = _missing_parents(path)
        os.makedirs(path)
        os.chmod(path, entry["mode"] if entry.get("mode") is not None else (0o777 & ~_umask()))
        _chown(path, entry.get("uid"), entry.get("gid"))
    elif action == "attrs":
        if entry.get("mode") is not None:
            os.chmod(path, entry["mode"])
        _chown(path, entry.get("uid"), entry.get("gid"))
    elif action == "write":
        keep = before if before["kind"] == "file" else {}
        mode = entry.get("mode") if entry.get("mode") is not None else keep.get("mode")
        uid = entry.get("uid") if entry.get("uid") is not None else keep.get("uid")
        gid = entry.get("gid") if entry.get("gid") is not None else keep.get("gid")
        write_file(path, change["content"], mode, uid, gid)
    elif action == "link":
        make_link(path, entry["src"])
    elif action == "remove":
        os.unlink(path)
    return created


def apply(changes):
    """Make the changes in order. Return the undo records for ``restore``: the changes made, with what they created.

    When a change fails, the records of those made before it (and of the failed one) are attached to the exception
    as ``undo`` so the caller can put everything back.
    """
    undo = []
    for change in changes:
        record = dict(change, created=[])
        undo.append(record)
        try:
            record["created"] = apply_change(change)
        except (OSError, ConfigFilesError) as error:
            wrapped = ConfigFilesError("%s: %s" % (change["path"], error))
            wrapped.undo = undo
            raise wrapped
    return undo


def put_back(path, before):
    """Make ``path`` what ``read_state`` saw before."""
    kind = before["kind"]
    current = read_state(path)
    if kind == "absent":
        if current["kind"] == "directory":
            os.rmdir(path)
        elif current["kind"] != "absent":
            os.unlink(path)
    elif kind == "file":
        if current["kind"] == "directory":
            raise ConfigFilesError("%s is a directory now" % path)
        write_file(path, before["content"], before["mode"], before["uid"], before["gid"])
    elif kind == "link":
        make_link(path, before["target"])
        _chown(path, before["uid"], before["gid"], follow=False)
    elif kind == "directory":
        os.chmod(path, before["mode"])
        _chown(path, before["uid"], before["gid"])


def restore(undo):
    """Put back every path of the undo records, the last change first. Return (restored paths, errors)."""
    restored, errors = [], []
    for record in reversed(undo):
        try:
            put_back(record["path"], record["before"])
            for directory in reversed(record.get("created") or []):
                if directory != record["path"] and os.path.isdir(directory) and not os.listdir(directory):
                    os.rmdir(directory)
            restored.append(record["path"])
        except (OSError, ConfigFilesError) as error:
            errors.append("%s: %s" % (record["path"], error))
    return list(reversed(restored)), errors


def _text(data):
    return data.decode("utf-8", errors="replace")


def _describe(state):
    kind = state["kind"]
    if kind == "absent":
        return "(absent)\n"
    if kind == "link":
        return "link to %s\n" % state["target"]
    text = "%s mode %04o uid %s gid %s\n" % (kind, state["mode"], state["uid"], state["gid"])
    return text


def diff(change):
    """The diff of one change for Ansible's --diff: contents of files (unless hidden), else a description."""
    path, entry, before = change["path"], change["entry"], change["before"]
    result = {"before_header": path, "after_header": path}
    hidden = bool(entry.get("hide_content"))
    if change["action"] == "write":
        if hidden:
            result["before"] = "(content hidden)\n" if before["kind"] == "file" else _describe(before)
            result["after"] = "(content hidden, changed)\n"
        else:
            result["before"] = _text(before["content"]) if before["kind"] == "file" else ""
            result["after"] = _text(change["content"])
        return result
    after = {"kind": "absent"}
    if change["action"] == "link":
        after = {"kind": "link", "target": entry["src"]}
    elif change["action"] in ("mkdir", "attrs"):
        after = dict(before if before["kind"] != "absent" else {"mode": None, "uid": None, "gid": None},
                     kind="directory" if change["action"] == "mkdir" else before["kind"])
        for key in ("mode", "uid", "gid"):
            if entry.get(key) is not None:
                after[key] = entry[key]
        if after["mode"] is None:
            after["mode"] = 0o777 & ~_umask()
    result["before"] = _describe(before)
    result["after"] = _describe(after)
    return result


def runs_on_change(changes, command, check_mode):
    """Whether the command after a change (on_change) runs: something changed, a command is given, not check mode."""
    return bool(changes) and bool(command) and not check_mode


def _relative(path, base):
    """``path`` under ``base``: a relative path without '..' (ConfigFilesError otherwise)."""
    parts = [part for part in str(path).split("/") if part not in ("", ".")]
    if str(path).startswith("/") or not parts or ".." in parts:
        raise ConfigFilesError("%s: with base, a path is relative to %s, without '..'" % (path, base))
    return "/".join(parts)


def expand(files, base=None, defaults=None, parents=None):
    """The entries as the module plans them, from its arguments.

    With ``base``, each path is relative to it. ``defaults`` (owner, group, mode) fill in what an entry leaves unset.
    With ``parents`` (owner, group, mode, exclude), every directory above a relative path gets an entry of its own,
    before the entries of ``files``, unless it is in ``exclude`` or above a path of it (directories another owner
    manages) or is an entry itself. Returns new dicts; ``files`` is not changed.
    """
    defaults = dict((key, value) for key, value in (defaults or {}).items() if value is not None)
    entries, relative = [], []
    for item in files:
        entry = dict(item)
        for key, value in defaults.items():
            if entry.get(key) is None:
                entry[key] = value
        if base:
            rel = _relative(entry["path"], base)
            relative.append(rel)
            entry["path"] = os.path.join(base, rel)
        entries.append(entry)
    if not (base and parents):
        return entries
    excluded = set(_relative(path, base) for path in (parents.get("exclude") or []))
    given = set(relative)
    directories = []
    for rel in relative:
        parts = rel.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            above_excluded = any(path == directory or path.startswith(directory + "/") for path in excluded)
            if directory in directories or directory in given or above_excluded:
                continue
            directories.append(directory)
    made = [dict(path=os.path.join(base, directory), state="directory", owner=parents.get("owner"),
                 group=parents.get("group"), mode=parents.get("mode")) for directory in directories]
    return made + entries
