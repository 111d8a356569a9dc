#!/usr/bin/env python3
"""Generate AWX survey specs (awx/surveys/<template>.json) from the roles' argument specs.

    scripts/awx-survey.py           write every survey listed in awx/surveys.yml
    scripts/awx-survey.py --check   exit 1 when a committed survey differs from what the specs give
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECRET = re.compile(r"(secret|password|token|key$)", re.IGNORECASE)


def plain(text):
    if isinstance(text, list):
        text = " ".join(text)
    return re.sub(r"\b[CVIOB]\(([^)]*)\)", r"\1", str(text or ""))


def role_options(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"]["options"]


INT_RANGE = (0, 1000000)


def question(ref):
    """A question for a role option: role.option, or a mapping with `option: role.option` and overrides (min, max,
    required) for limits the argument spec cannot express."""
    overrides = dict(ref) if isinstance(ref, dict) else {"option": ref}
    role, name = overrides.pop("option").split(".", 1)
    options = role_options(role)
    if name not in options:
        raise SystemExit("awx/surveys.yml: %s is not an option of role %s" % (name, role))
    opt = options[name]
    kind = opt.get("type", "str")
    default = opt.get("default", "")
    q = {
        "question_name": name.replace("_", " ").capitalize(),
        "question_description": plain(opt.get("description")),
        "variable": name,
        "required": bool(overrides.pop("required", opt.get("required", False))),
        "default": "" if default is None else default,
    }
    if opt.get("choices"):
        q.update(type="multiplechoice", choices=[str(c) for c in opt["choices"]], default=str(q["default"]))
    elif kind == "bool":
        q.update(type="multiplechoice", choices=["true", "false"], default=str(bool(default)).lower())
    elif kind in ("int", "float"):
        q.update(type="integer" if kind == "int" else "float", min=overrides.pop("min", INT_RANGE[0]),
                 max=overrides.pop("max", INT_RANGE[1]))
    elif kind in ("list", "dict"):
        q.update(type="textarea", default=json.dumps(default) if default not in ("", None) else "")
    elif opt.get("no_log") or SECRET.search(name):
        q.update(type="password")
    else:
        q.update(type="text", min=overrides.pop("min", 0), max=overrides.pop("max", 1024))
    if overrides:
        raise SystemExit("awx/surveys.yml: %s.%s: unknown or inapplicable keys %s" % (role, name, sorted(overrides)))
    return q


def play_question(item):
    """A question for a playbook's own variable (a play keyword such as serial), written out in awx/surveys.yml."""
    kind = item.get("type", "text")
    q = {
        "question_name": item["variable"].replace("_", " ").capitalize(),
        "question_description": item["description"],
        "variable": item["variable"],
        "required": bool(item.get("required", False)),
        "default": item.get("default", ""),
    }
    if kind == "boolean":
        q.update(type="multiplechoice", choices=["true", "false"], default=str(bool(q["default"])).lower())
    elif kind == "integer":
        q.update(type="integer", min=item.get("min", 0), max=item.get("max", 100))
    else:
        q.update(type=kind, min=item.get("min", 0), max=item.get("max", 1024))
    return q


def surveys():
    config = yaml.safe_load((ROOT / "awx" / "surveys.yml").read_text(encoding="utf-8"))
    for template, item in config.items():
        spec = {
            "name": item["name"],
            "description": item["description"],
            "spec": [play_question(ref) if isinstance(ref, dict) and "variable" in ref else question(ref)
                     for ref in item["questions"]],
        }
        yield template, json.dumps(spec, indent=2, sort_keys=True) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    out = ROOT / "awx" / "surveys"
    out.mkdir(exist_ok=True)
    stale = []
    for template, text in surveys():
        path = out / ("%s.json" % template)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
            print("wrote %s" % path.relative_to(ROOT))
    if stale:
        print("out of date (run scripts/awx-survey.py): %s" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
