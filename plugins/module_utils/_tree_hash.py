# Copyright: flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stable content hashes of directory trees (pure functions on the file system)."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat


def _excluded(name, patterns):
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def iter_tree(root, patterns=()):
    """Yield (relative path, absolute path) of every file below root, sorted, skipping excluded names."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _excluded(d, patterns))
        for name in sorted(filenames):
            if _excluded(name, patterns):
                continue
            full = os.path.join(dirpath, name)
            yield os.path.relpath(full, root).replace(os.sep, "/"), full


def tree_hash(path, patterns=()):
    """SHA-256 hex digest of a file, or of a tree's relative paths, executable bits and contents."""
    digest = hashlib.sha256()
    if os.path.isfile(path):
        entries = [(os.path.basename(path), path)]
    else:
        entries = iter_tree(path, patterns)
    for rel, full in entries:
        mode = os.lstat(full).st_mode
        digest.update(rel.encode("utf-8") + b"\0")
        digest.update(b"x" if mode & stat.S_IXUSR else b"-")
        if stat.S_ISLNK(mode):
            digest.update(b"link:" + os.readlink(full).encode("utf-8"))
        else:
            with open(full, "rb") as f:
                for chunk in iter(lambda: f.read(65536), b""):
                    digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()
