# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether a role has anything to do: pure functions on plain data (no Ansible, no host access).

A role's *fingerprint* is what its last full run depended on: the values of the variables its argument spec declares
(one short hash each, so that a stale stamp can name the input that changed), a hash of the role's own files, the
collection version and the few host facts the role reads. A *stamp* is written on the host at the end of the role's
last full successful run: the fingerprint plus what the role left on the host (the sha256 of each file it owns, the
paths that must stay absent, the units that must be active and enabled, the packages that must be installed).

``reasons(stamp, wanted, observed)`` compares the two and lists why the role must run in full; no reason means the
role has nothing to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

STAMP_FORMAT = 1
ABSENT = None  # the observed digest of a path that does not exist
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


class StampError(ValueError):
    """A stamp that cannot be read (not JSON, wrong format, wrong types)."""


def canonical(value):
    """A JSON text that is the same for equal values (sorted keys, no spaces); other types as their str()."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


def digest(value, length=16):
    """Short sha256 hex digest of a value's canonical JSON."""
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()[:length]


def input_digests(values):
    """{name: digest} of each input; the values themselves never leave the controller (secrets among them)."""
    return {str(name): digest(value) for name, value in sorted(values.items())}


def fingerprint(inputs, content, version, facts):
    """The fingerprint of a role run: what the stamp records and what the next run compares against.

    A fact whose value is None was not gathered by this play (deploy.yml gathers none): it stays None, and is not
    compared (see fingerprint_reasons).
    """
    return {
        "inputs": input_digests(inputs),
        "content": str(content),
        "version": str(version),
        "facts": {str(name): (None if value is None else digest(value)) for name, value in sorted(facts.items())},
    }


def stamp_name(role, scope=""):
    """File name of a role's stamp: <role>.json, or <role>.<scope>.json for one instance of a role."""
    for part in (role,) + ((scope,) if scope else ()):
        if not NAME.match(part or ""):
            raise ValueError("not a valid stamp name part: %r (letters, digits, _ . @ -)" % (part,))
    return "%s.%s.json" % (role, scope) if scope else "%s.json" % role


def build_stamp(wanted, files, absent, units, packages):
    """The stamp a full run records: its fingerprint and the state it left (observed right after the run)."""
    return {
        "format": STAMP_FORMAT,
        "fingerprint": wanted,
        "files": dict(sorted(files.items())),
        "absent": sorted(set(absent)),
        "units": sorted(set(units)),
        "packages": sorted(set(packages)),
    }


def parse_stamp(text):
    """The stamp in a file's text; StampError when it is not one this version wrote."""
    try:
        stamp = json.loads(text)
    except ValueError as exc:
        raise StampError("not JSON: %s" % exc)
    if not isinstance(stamp, dict) or stamp.get("format") != STAMP_FORMAT:
        raise StampError("not a stamp of format %d" % STAMP_FORMAT)
    fp = stamp.get("fingerprint")
    if not isinstance(fp, dict) or not all(isinstance(fp.get(k), dict) for k in ("inputs", "facts")):
        raise StampError("no fingerprint")
    if not isinstance(stamp.get("files"), dict):
        raise StampError("no files")
    for key in ("absent", "units", "packages"):
        if not isinstance(stamp.get(key), list):
            raise StampError("no list of %s" % key)
    return stamp


def _changed_names(old, new):
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


def fingerprint_reasons(recorded, wanted):
    """Why a recorded fingerprint differs from the wanted one (empty when they are the same)."""
    reasons = []
    if recorded.get("version") != wanted.get("version"):
        reasons.append("collection version %s -> %s" % (recorded.get("version"), wanted.get("version")))
    if recorded.get("content") != wanted.get("content"):
        reasons.append("role content changed")
    names = _changed_names(recorded.get("inputs", {}), wanted.get("inputs", {}))
    if names:
        reasons.append("input changed: %s" % ", ".join(names))
    wanted_facts = {name: value for name, value in wanted.get("facts", {}).items() if value is not None}
    names = _changed_names({name: recorded.get("facts", {}).get(name) for name in wanted_facts}, wanted_facts)
    if names:
        reasons.append("host fact changed: %s" % ", ".join(names))
    return reasons


def host_reasons(stamp, observed):
    """Why the host no longer matches what the stamp recorded.

    ``observed`` holds what the host shows now for the stamp's own lists: ``files`` {path: sha256 or None},
    ``units`` {name: {"active": bool, "enabled": bool}}, ``packages`` {name: bool}.
    """
    reasons = []
    files = observed.get("files", {})
    for path, sha in sorted(stamp["files"].items()):
        now = files.get(path, ABSENT)
        if now is ABSENT and sha is not ABSENT:
            reasons.append("file missing: %s" % path)
        elif now != sha:
            reasons.append("file changed: %s" % path)
    for path in stamp["absent"]:
        if files.get(path, ABSENT) is not ABSENT:
            reasons.append("file present: %s" % path)
    units = observed.get("units", {})
    for unit in stamp["units"]:
        status = units.get(unit, {})
        if not status.get("active"):
            reasons.append("unit not active: %s" % unit)
        if not status.get("enabled"):
            reasons.append("unit not enabled: %s" % unit)
    packages = observed.get("packages", {})
    for package in stamp["packages"]:
        if not packages.get(package):
            reasons.append("package not installed: %s" % package)
    return reasons


def reasons(stamp_text, wanted, observed=None, force=False):
    """Every reason the role must run in full; [] when it has nothing to do.

    ``stamp_text`` is the stamp file's text (None when there is none); ``observed`` what the host shows for the
    stamp's files, units and packages (see host_reasons).
    """
    found = ["forced (flaskops_full_converge, or the role's own rule)"] if force else []
    if stamp_text is None:
        return found + ["no stamp (first run, or the last full run did not finish)"]
    try:
        stamp = parse_stamp(stamp_text)
    except StampError as exc:
        return found + ["stamp unreadable (%s)" % exc]
    found += fingerprint_reasons(stamp["fingerprint"], wanted)
    found += host_reasons(stamp, observed or {})
    return found


def watched(stamp_text):
    """The paths, units and packages a stamp asks the host about ({} lists when it cannot be read)."""
    try:
        stamp = parse_stamp(stamp_text) if stamp_text is not None else None
    except StampError:
        stamp = None
    if stamp is None:
        return {"files": [], "units": [], "packages": []}
    return {
        "files": sorted(set(stamp["files"]) | set(stamp["absent"])),
        "units": list(stamp["units"]),
        "packages": list(stamp["packages"]),
    }


def parse_systemctl_show(text):
    """{unit: {"active": bool, "enabled": bool}} from ``systemctl show -p Id -p ActiveState -p UnitFileState``.

    systemctl separates the units' blocks with an empty line; an enabled-runtime, static or alias unit file counts
    as enabled (it starts without an enable of its own), a generated or transient one too.
    """
    units = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" not in props:
            continue
        units[props["Id"]] = {
            "active": props.get("ActiveState") in ("active", "reloading"),
            "enabled": props.get("UnitFileState") in ("enabled", "enabled-runtime", "static", "alias", "generated",
                                                      "transient", "indirect"),
        }
    return units


def parse_dpkg_status(text):
    """{package: installed} from ``dpkg-query -W -f '${Package} ${db:Status-Status}\\n'`` (arch suffixes dropped)."""
    packages = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            packages[parts[0].split(":", 1)[0]] = parts[-1] == "installed"
    return packages


def preflight_answer(preflight, role, stamp, wanted, reuse_fresh=False):
    """The answer a play's preflight already got for this very query, or None to ask the host.

    ``preflight`` is the preflight's registered result (``roles``: one answer per role, each with ``role``); an answer
    is reused only for the same stamp and the same fingerprint. A role found stale stays stale while the play goes on
    (the roles before it only change more of the host), so the role's own query would give the same answer: it costs
    a remote call and is skipped. A fresh answer is reused only with ``reuse_fresh``: while no role of this run has
    been found stale on the host (:data:`STALE_FACT`), no role has run its full path since the preflight, so nothing
    changed what this role left there.
    """
    if not isinstance(preflight, dict) or preflight.get("failed") or preflight.get("skipped"):
        return None
    for answer in preflight.get("roles") or []:
        if not isinstance(answer, dict) or answer.get("role") != role:
            continue
        if answer.get("stamp") != stamp or answer.get("fingerprint") != wanted:
            return None
        if answer.get("stale") is True:
            return {"changed": False, "stale": True, "stamp": stamp, "fingerprint": wanted,
                    "reasons": list(answer.get("reasons") or []), "preflight": True}
        if reuse_fresh and answer.get("stale") is False:
            return {"changed": False, "stale": False, "stamp": stamp, "fingerprint": wanted, "reasons": [],
                    "preflight": True}
        return None
    return None


def absent_answer(preflight, role, stamp, wanted, force=False):
    """The answer for a stamp the play's preflight did not find on the host, or None to ask the host.

    ``preflight`` is the preflight's registered result: ``stamp_dir`` and ``present_stamps``, the names of the files
    in that directory when it asked. A stamp of that directory that is not among them is missing, so the role is
    stale (:func:`reasons` without a stamp). Only a full run writes a stamp (at a handler flush), so a stamp written
    since could only make this answer stale where the host would say fresh: the role then runs in full, never less.
    """
    if not isinstance(preflight, dict) or preflight.get("failed") or preflight.get("skipped"):
        return None
    present = preflight.get("present_stamps")
    directory = preflight.get("stamp_dir")
    if not isinstance(present, list) or not isinstance(directory, str) or not directory:
        return None
    if os.path.dirname(stamp) != directory.rstrip("/") or os.path.basename(stamp) in present:
        return None
    return {"role": role, "stale": True, "reasons": reasons(None, wanted, force=force), "stamp": stamp,
            "fingerprint": wanted}


# Answers a role's query got in the same remote call for the roles it includes (their own queries then make none):
# {"run": <marker of the run>, "answers": [{role, stale, reasons, stamp, fingerprint}]}.
PREFETCH_FACT = "flaskops_role_state_prefetched"


def prefetch_add(prefetched, run, answers):
    """The fact after a role's query fetched the ``answers`` of the roles it includes (replacing earlier ones of the
    same stamps)."""
    kept = []
    if isinstance(prefetched, dict) and prefetched.get("run") == run and isinstance(prefetched.get("answers"), list):
        stamps = {answer.get("stamp") for answer in answers}
        kept = [a for a in prefetched["answers"] if isinstance(a, dict) and a.get("stamp") not in stamps]
    return {"run": run, "answers": kept + [dict(answer) for answer in answers if isinstance(answer, dict)]}


def prefetched_answer(prefetched, run, stamp, wanted):
    """The answer the including role's query fetched for this very query (same run, stamp and fingerprint), or None
    to ask the host.

    The including role fetched it before its own tasks ran, and those tasks only change the files the including role
    owns, never what an included role left (one owner per file), so the host would answer the same.
    """
    if not isinstance(prefetched, dict) or prefetched.get("run") != run:
        return None
    for answer in prefetched.get("answers") or []:
        if isinstance(answer, dict) and answer.get("stamp") == stamp and answer.get("fingerprint") == wanted:
            return {"changed": False, "stale": bool(answer.get("stale")), "stamp": stamp, "fingerprint": wanted,
                    "reasons": list(answer.get("reasons") or []), "prefetched": True}
    return None


# The marker of the run (:func:`run_marker`) in which a role's query found it stale on this host: from then on, the
# role runs its full path and may change the host, so the fresh answers of the preflight are not reused.
STALE_FACT = "flaskops_role_state_stale_run"


# Records kept on the controller until a handler flush commits them in one call. They live in a host fact of the
# run (PENDING_FACT): {"run": <marker of the run>, "records": [{role, scope, stamp, ..., "done": bool}]}. A record
# is "done" once the commit handler of its role ran, which comes after the role's other handlers; the stamps are
# written when every pending record is done, so that none claims a role whose handlers have not run yet.
PENDING_FACT = "flaskops_role_state_pending"
RECORD_KEYS = ("role", "scope", "path", "fingerprint", "files", "absent", "units", "packages")


def run_marker(*parts):
    """A short marker of one ansible-playbook run, from values that differ between runs (its process and start).

    A persistent fact cache keeps the fact after the run: the records of another run are then ignored.
    """
    return digest([str(part) for part in parts])


def pending_records(pending, run):
    """The records this run keeps pending ([] for a missing fact, one of another run, or a malformed one)."""
    if not isinstance(pending, dict) or pending.get("run") != run or not isinstance(pending.get("records"), list):
        return []
    return [dict(r) for r in pending["records"] if isinstance(r, dict) and r.get("stamp")]


def pending_add(pending, run, record):
    """The fact after a role records a full run: its record (replacing one of the same stamp), not done yet."""
    kept = [r for r in pending_records(pending, run) if r["stamp"] != record["stamp"]]
    return {"run": run, "records": kept + [dict(record, done=False)]}


def pending_done(pending, run, role):
    """(fact, records to commit now) once the commit handler of ``role`` ran.

    The role's records are marked done; while another role's record waits for its own commit handler, nothing is
    committed ([]). When every record is done, all of them are returned and the fact keeps none.
    """
    records = pending_records(pending, run)
    for record in records:
        if record.get("role") == role:
            record["done"] = True
    if records and all(record["done"] for record in records):
        return {"run": run, "records": []}, [{key: record.get(key) for key in RECORD_KEYS} for record in records]
    return {"run": run, "records": records}, []


def pending_answer(pending, run, stamp, wanted):
    """The answer to a role's query when this run already recorded a full run of it with the same fingerprint.

    The role converged earlier in this run (its stamp waits for the handler flush): it has nothing more to do, and
    the query makes no remote call. None to ask the host.
    """
    for record in pending_records(pending, run):
        if record["stamp"] == stamp and record.get("fingerprint") == wanted:
            return {"changed": False, "stale": False, "stamp": stamp, "fingerprint": wanted, "reasons": [],
                    "pending": True}
    return None
