#!/usr/bin/env python3
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the output of an ansible-playbook run (tests/newcomer.sh runs it on the logs of the playbooks it runs).

    tests/run_output.py LOG [--summary TEXT ...] [--no-warnings]

--summary: the last task before the (last) PLAY RECAP is the run summary (the app role's task "Summary"), and its
block holds each TEXT. --no-warnings: the log has no [WARNING] line. Prints the summary block; exit 1 on a failure.
"""

from __future__ import annotations

import argparse
import re
import sys

SUMMARY_TASK = "TASK [flaskops.deploy.app : Summary]"


def last_task(text: str) -> tuple[str, str]:
    """The header and the output of the last task before the last PLAY RECAP."""
    body = text[: text.rfind("PLAY RECAP")] if "PLAY RECAP" in text else text
    starts = [match.start() for match in re.finditer(r"^TASK \[", body, re.M)]
    if not starts:
        return "", ""
    block = body[starts[-1]:]
    header, dummy, output = block.partition("\n")
    return re.sub(r"\s*\**$", "", header), output


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--summary", action="append", default=None, metavar="TEXT")
    parser.add_argument("--no-warnings", action="store_true")
    args = parser.parse_args()
    with open(args.log, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    problems = []
    if args.summary is not None:
        header, output = last_task(text)
        print(f"{args.log}: the last task is {header!r}\n{output.rstrip()}")
        if header != SUMMARY_TASK:
            problems.append(f"the output does not end with the run summary ({SUMMARY_TASK}) but with {header!r}")
        # The YAML callback folds long lines: compare with the whitespace collapsed.
        flat = " ".join(output.split())
        problems += [f"the summary lacks {wanted!r}" for wanted in args.summary if " ".join(wanted.split()) not in flat]
    if args.no_warnings:
        problems += [f"warning: {line}" for line in text.splitlines() if "[WARNING]" in line]
    for problem in problems:
        print(f"{args.log}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
