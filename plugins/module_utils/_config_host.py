# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The Flask configuration check of a release on a real host, run as the app user with the environment the slots
get (the rules of ``flaskops.deploy.flask_config_validate``): the gate of ``release_build`` and a rollback's check in
``release``."""

from __future__ import annotations

import inspect
import os
import pwd
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.flaskops.deploy.plugins.module_utils import _flask_facts
from ansible_collections.flaskops.deploy.plugins.module_utils import _release_build as rb
from ansible_collections.flaskops.deploy.plugins.module_utils._flask_config import (
    RULE_IDS,
    check_report,
    maskable,
    parse_env_file,
    probe_facts,
)

# Values of the environment shorter than this are not masked in the output (as in flask_config_validate).
MIN_MASKED_LENGTH = 8

# The settings of the check, built once by the app role from its app_config_check_* variables (an argument spec).
CONFIG_OPTIONS: dict[str, dict[str, t.Any]] = dict(
    app=dict(type="str"),
    https=dict(type="bool", default=True),
    https_setting=dict(type="str", default="auto"),
    behind_proxy=dict(type="bool", default=True),
    server_name=dict(type="str", default=""),
    body_limit=dict(type="int"),
    skip_rules=dict(type="list", elements="str", default=[]),
    fail_on=dict(type="str", default="error", choices=["error", "warning"]),
    hints=dict(type="dict", default={}),
    hint_skip=dict(type="str", default=""),
)


def venv_python(module: AnsibleModule, release_dir: str) -> str:
    """The release venv's interpreter; ``fail_json`` when it has none."""
    for name in ("python", "python3"):
        candidate = os.path.join(release_dir, ".venv", "bin", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    module.fail_json(msg="venv %r has no executable bin/python" % os.path.join(release_dir, ".venv"))
    raise AssertionError("unreachable")  # fail_json does not return


def read_env(module: AnsibleModule, env_file: str, content: str | None = None) -> dict[str, str]:
    """The environment of ``env_file`` (or of ``content``, the file it will become), its values masked in the
    module's output; ``fail_json`` when it cannot be read or parsed."""
    try:
        if content is None:
            with open(env_file, encoding="utf-8") as handle:
                content = handle.read()
        env = parse_env_file(content)
    except (OSError, UnicodeDecodeError) as error:
        module.fail_json(msg="env_file %r cannot be read: %s" % (env_file, error))
    except ValueError as error:
        module.fail_json(msg="env_file %r: %s" % (env_file, error))
    # The file's values are secrets: none of them is returned or logged.
    module.no_log_values.update(maskable(env.values(), MIN_MASKED_LENGTH))
    return env


def check(module: AnsibleModule, release_dir: str, env: t.Mapping[str, str], user: str, group: str,
          settings: t.Mapping[str, t.Any]) -> tuple[dict[str, t.Any], str]:
    """Import the release at ``release_dir`` as ``user``:``group`` with ``env`` and check its configuration.

    Returns ``(report, refusal)``: the report of ``flask_config_validate`` (``valid``, ``findings``, ``facts``, ...)
    and the message of a refusal, empty when the findings let the release go live. ``fail_json`` on what stops the
    check itself (an unknown rule to skip, no such user, no venv).
    """
    unknown = sorted(set(settings["skip_rules"]) - set(RULE_IDS))
    if unknown:
        module.fail_json(msg="config.skip_rules names unknown rules: %s" % ", ".join(unknown))
    try:
        home = pwd.getpwnam(user).pw_dir
    except KeyError:
        module.fail_json(msg="no user %s on the host" % user)
    python = venv_python(module, release_dir)
    try:
        probe = inspect.getsource(_flask_facts)
    except (OSError, TypeError) as error:
        module.fail_json(msg="cannot read the source of the configuration probe: %s" % error)
    argv = rb.as_user_argv(user, group, [python, "-c", probe, settings["app"]])
    rc, out, err = module.run_command(
        argv, cwd=release_dir, check_rc=False, expand_user_and_vars=False,
        environ_update=dict({"HOME": home, "USER": user, "LOGNAME": user}, **env))
    facts = probe_facts(out, err, rc, python, _flask_facts.PROBE_MARKER)
    options = dict(app=settings["app"], https=settings["https"], behind_proxy=settings["behind_proxy"],
                   server_name=settings["server_name"] or None, proxy_body_limit=settings["body_limit"])
    report, refusal = check_report(facts, options, None, settings["skip_rules"], settings["fail_on"])
    return report, refusal or ""
