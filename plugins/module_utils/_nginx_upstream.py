# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""nginx's switchable upstream file, as pure functions.

Each site's ``upstream`` block includes ``/etc/nginx/flaskops/<site>.upstream.conf``. The file holds either

* one line, ``server <address> max_fails=0;``: the app server (slot) that the site proxies to, which a blue/green
  switch replaces; or
* for a load balancer, one line per backend, named by the comment at its end and marked ``down`` while the backend
  is out of service::

      server 10.0.0.11:80 max_fails=2 fail_timeout=10s; # backend web1
      server 10.0.0.12:80 max_fails=2 fail_timeout=10s down; # backend web2

``upstream_path`` is the only place where the file's path is derived from the site's name.
"""

from __future__ import annotations

import posixpath
import re
import typing as t

UPSTREAM_DIR = "/etc/nginx/flaskops"
UPSTREAM_SUFFIX = ".upstream.conf"

# The load balancer's file starts with this comment (the first three lines are what ansible_managed renders to with
# Ansible's defaults, so files written by earlier versions of the nginx role are left as they are).
LB_HEADER = (
    "#\n"
    "# Ansible managed\n"
    "#\n"
    "# Backends of the load balancer, one line each, named by the comment at its end. While a backend is being deployed,\n"
    "# deploy.yml (and rollback.yml, restart.yml) mark its line `down` and reload nginx; the next run of this role puts\n"
    "# back every backend.\n"
)

_SITE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# An address or a backend name is one nginx word: no blanks, and nothing that ends or comments a directive.
_WORD = re.compile(r"^[^\s;#{}'\"\\]+$")
_SLOT_LINE = re.compile(r"^server (?P<address>\S+) max_fails=0;$")
_BACKEND_LINE = re.compile(
    r"^(?P<head>server (?P<address>\S+) max_fails=(?P<max_fails>\S+) fail_timeout=(?P<fail_timeout>[0-9]+)s)"
    r"(?P<down> down)?; # backend (?P<name>.+)$"
)


class UpstreamError(ValueError):
    """An argument that cannot go into the upstream file."""


def upstream_path(site: str, directory: str = UPSTREAM_DIR) -> str:
    """Return the path of site ``site``'s upstream file: ``<directory>/<site>.upstream.conf``."""
    if not isinstance(site, str) or not _SITE.match(site):
        raise UpstreamError(
            f"site name {site!r} cannot name an upstream file: use letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'"
        )
    return posixpath.join(directory, site + UPSTREAM_SUFFIX)


def _word(kind: str, value: t.Any) -> str:
    if not isinstance(value, str) or not _WORD.match(value):
        raise UpstreamError(f"{kind} {value!r} is not a single nginx word (no blanks, quotes, ';', '#', braces)")
    return value


def slot_line(address: str) -> str:
    """Return the line that sends all the traffic to ``address`` (``unix:/path`` or ``host:port``), without a newline."""
    return f"server {_word('address', address)} max_fails=0;"


def render_slot(address: str) -> str:
    """Return the whole upstream file of a site that proxies to one app server (slot)."""
    return slot_line(address) + "\n"


def backend_line(name: str, address: str, max_fails: int = 2, fail_timeout: int = 10, down: bool = False) -> str:
    """Return a load balancer's line for backend ``name`` at ``address``, without a newline."""
    if isinstance(max_fails, bool) or not isinstance(max_fails, int) or max_fails < 0:
        raise UpstreamError(f"max_fails must be an integer of 0 or more, not {max_fails!r}")
    if isinstance(fail_timeout, bool) or not isinstance(fail_timeout, int) or fail_timeout < 0:
        raise UpstreamError(f"fail_timeout must be an integer of 0 or more, not {fail_timeout!r}")
    mark = " down" if down else ""
    return (
        f"server {_word('address', address)} max_fails={max_fails} fail_timeout={fail_timeout}s{mark};"
        f" # backend {_word('backend name', name)}"
    )


def render_backends(
    backends: t.Sequence[t.Mapping[str, t.Any]],
    down: t.Iterable[str] = (),
    max_fails: int = 2,
    fail_timeout: int = 10,
) -> str:
    """Return a load balancer's whole upstream file.

    :param backends: ``{"name": ..., "address": "host:port"}`` in the order nginx lists them; names are unique.
    :param down: names of the backends marked ``down`` (out of service); every other backend is in service.
    """
    down = set(down)
    names = [backend.get("name") for backend in backends]
    duplicates = sorted({str(name) for name in names if names.count(name) > 1})
    if duplicates:
        raise UpstreamError(f"backend names must be unique: {', '.join(duplicates)}")
    unknown = sorted(down - set(names))
    if unknown:
        raise UpstreamError(f"down names backends that are not listed: {', '.join(unknown)}")
    lines = [
        backend_line(backend.get("name"), backend.get("address"), max_fails, fail_timeout, backend.get("name") in down)
        for backend in backends
    ]
    return LB_HEADER + "".join(line + "\n" for line in lines)


def parse(text: str | None) -> dict[str, t.Any]:
    """Read an upstream file back.

    Returns ``{present, kind, servers, backends}``: ``kind`` is ``missing``, ``slot`` (exactly one slot line),
    ``backends`` (only load balancer lines besides comments and blank lines) or ``other``; ``servers`` lists the
    ``server`` addresses of the lines this module writes, in order; ``backends`` lists the load balancer's lines as
    ``{name, address, max_fails, fail_timeout, down}``.
    """
    if text is None:
        return {"present": False, "kind": "missing", "servers": [], "backends": []}
    slots, backends, other = [], [], 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _BACKEND_LINE.match(line)
        if match:
            backends.append({
                "name": match.group("name"),
                "address": match.group("address"),
                "max_fails": int(match.group("max_fails")) if match.group("max_fails").isdigit() else match.group("max_fails"),
                "fail_timeout": int(match.group("fail_timeout")),
                "down": bool(match.group("down")),
            })
            continue
        match = _SLOT_LINE.match(line)
        if match:
            slots.append(match.group("address"))
            continue
        other += 1
    if len(slots) == 1 and not backends and not other:
        kind = "slot"
    elif backends and not slots and not other:
        kind = "backends"
    else:
        kind = "other"
    servers = slots + [backend["address"] for backend in backends]
    return {"present": True, "kind": kind, "servers": servers, "backends": backends}


def mark(text: str, down: t.Iterable[str] = (), up: t.Iterable[str] = ()) -> tuple[str, list[str]]:
    """Mark backends of a load balancer's file ``down`` or back in service, changing nothing else in ``text``.

    Backends named in neither ``down`` nor ``up`` keep their mark; a name in both is an error.
    Returns the new text and the names given that no line of ``text`` names (those are left out: nothing to mark).
    """
    down, up = set(down), set(up)
    both = sorted(down & up)
    if both:
        raise UpstreamError(f"backends cannot be marked down and up at once: {', '.join(both)}")
    found = set()
    lines = text.splitlines(True)
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = _BACKEND_LINE.match(body)
        if not match or match.group("name") not in down | up:
            continue
        name = match.group("name")
        found.add(name)
        new = f"{match.group('head')}{' down' if name in down else ''}; # backend {name}"
        lines[index] = new + line[len(body):]
    return "".join(lines), sorted((down | up) - found)
