#!/usr/bin/env python3
"""Print a role's variables as a Markdown table, from its meta/argument_specs.yml.

    scripts/argspec-table.py ROLE                 print the table of roles/ROLE (entry point main)
    scripts/argspec-table.py ROLE --entry-point X another entry point
    scripts/argspec-table.py ROLE --write         replace the table in roles/ROLE/README.md between
                                                  <!-- BEGIN ARGSPEC TABLE --> and <!-- END ARGSPEC TABLE -->

Nested options (suboptions of a list or dict) are listed as parent.child.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

import yaml

BEGIN = "<!-- BEGIN ARGSPEC TABLE -->"
END = "<!-- END ARGSPEC TABLE -->"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def markup(text):
    """Ansible doc markup to Markdown: C(x) and V(x) -> `x`, I(x) and O(x) -> *x*, B(x) -> **x**."""
    text = re.sub(r"\b[CV]\(((?:[^()]|\([^()]*\))*)\)", r"`\1`", text)
    text = re.sub(r"\b[IO]\(([^)]+)\)", r"*\1*", text)
    text = re.sub(r"\bB\(([^)]+)\)", r"**\1**", text)
    return text


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ").strip()


def default_of(spec):
    if "default" not in spec:
        return ""
    value = spec["default"]
    if value is None:
        return ""
    if isinstance(value, str):
        return "`%s`" % value if value else '`""`'
    rendered = yaml.safe_dump(value, default_flow_style=True, width=10000, sort_keys=False).strip()
    if rendered.endswith("..."):
        rendered = rendered[:-3].strip()
    return "`%s`" % rendered


def type_of(spec):
    kind = spec.get("type", "str")
    if kind == "list" and "elements" in spec:
        kind = "list of %s" % spec["elements"]
    return kind


def rows(options, prefix=""):
    for name, spec in options.items():
        spec = spec or {}
        description = spec.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        description = markup(description)
        if spec.get("choices"):
            description += " Choices: %s." % ", ".join("`%s`" % c for c in spec["choices"])
        if spec.get("no_log"):
            description += " Secret (no_log)."
        yield (
            "`%s%s`" % (prefix, name),
            type_of(spec),
            "yes" if spec.get("required") else "",
            default_of(spec),
            description,
        )
        if spec.get("options"):
            yield from rows(spec["options"], prefix="%s%s." % (prefix, name))


def table(role_dir, entry_point="main"):
    specs = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = specs["argument_specs"][entry_point].get("options", {})
    lines = ["| Variable | Type | Required | Default | Description |", "|---|---|---|---|---|"]
    for row in rows(options):
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def write(readme, text):
    content = readme.read_text(encoding="utf-8")
    if BEGIN not in content or END not in content:
        raise SystemExit("%s has no %s ... %s markers" % (readme, BEGIN, END))
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + BEGIN + "\n" + text + END + tail, encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", help="role name (a directory under roles/) or a path to a role")
    parser.add_argument("--entry-point", default="main")
    parser.add_argument("--write", action="store_true", help="update the table in the role's README.md")
    args = parser.parse_args(argv)
    role_dir = pathlib.Path(args.role)
    if not (role_dir / "meta").is_dir():
        role_dir = ROOT / "roles" / args.role
    if not (role_dir / "meta" / "argument_specs.yml").is_file():
        parser.error("%s has no meta/argument_specs.yml" % role_dir)
    text = table(role_dir, args.entry_point)
    if args.write:
        write(role_dir / "README.md", text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
