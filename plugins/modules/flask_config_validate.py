#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: flask_config_validate
short_description: Refuse a Flask configuration that is not fit to serve the public
version_added: 1.0.0
description:
  - Checks the effective configuration of a Flask application against a set of rules (below) and reports each problem
    as a finding with an id, a severity, a message and a remediation.
  - Meant to gate deploys. When there are findings at or above O(fail_on), the module B(fails), with the findings in its
    result, so the play stops before the release goes live.
  - "Two ways in: with O(app) the module imports the application in its own virtualenv (O(venv)), in O(chdir), with the
    environment of O(env_file) and O(environment), and reads the effective C(app.config) and whether C(app.wsgi_app) is
    wrapped in werkzeug's C(ProxyFix). With O(config) it checks the given dict as Flask would see it (missing keys take
    Flask's defaults)."
  - Secret values never leave the target host. The application's Python reports only facts such as the length and
    entropy of C(SECRET_KEY) and the scheme of database URLs, and the module returns only findings and those facts.
  - "The rules, with their severity: V(app-import) (error) the application cannot be imported;
    V(debug-enabled) (error) C(DEBUG) is on; V(testing-enabled) (error) C(TESTING) is on;
    V(secret-key-missing) (error) C(SECRET_KEY) is not set; V(secret-key-placeholder) (error) it is a well-known
    placeholder such as C(dev), C(change-me) or C(you-will-never-guess); V(secret-key-short) (error) it is shorter than
    32 bytes; V(secret-key-low-entropy) (error) it has less than 3.0 bits of Shannon entropy per character;
    V(session-cookie-insecure) (error) C(SESSION_COOKIE_SECURE) is off while O(https=true);
    V(session-cookie-httponly-disabled) (error) C(SESSION_COOKIE_HTTPONLY) is off;
    V(session-cookie-samesite-unset) (warning) C(SESSION_COOKIE_SAMESITE) is unset or C(None);
    V(remember-cookie-insecure) (error) C(REMEMBER_COOKIE_SECURE) is not on while O(https=true) and Flask-Login is in
    use; V(preferred-url-scheme-http) (warning) C(PREFERRED_URL_SCHEME) is not C(https) while O(https=true);
    V(proxy-fix-missing) (warning) O(behind_proxy=true) but the app is not wrapped in C(ProxyFix) (or ignores
    C(X-Forwarded-Proto)); V(sqlite-database) (warning) C(SQLALCHEMY_DATABASE_URI), C(DATABASE), C(DATABASE_URL) or a
    C(SQLALCHEMY_BINDS) entry is an SQLite database; V(max-content-length-unset) (warning) C(MAX_CONTENT_LENGTH) is not
    set; V(max-content-length-exceeds-proxy) (error) it is larger than O(proxy_body_limit);
    V(csrf-disabled) (error) C(WTF_CSRF_ENABLED) is off; V(server-name-mismatch) (error) C(SERVER_NAME) is set and is
    not O(server_name); V(explain-template-loading) (warning) C(EXPLAIN_TEMPLATE_LOADING) is on."
  - V(remember-cookie-insecure) is an error rather than a warning because the remember-me cookie is a long-lived
    credential. With O(app), Flask-Login counts as in use when the app has a C(login_manager); with O(config), when a
    C(REMEMBER_COOKIE_*) key is present.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
  - flaskops.deploy.attributes.info_module
options:
  app:
    description:
      - The application to import, as for C(flask --app) or gunicorn, for example V(wsgi:app), V(hello_app:create_app())
        or V(hello_app:create_app("production")) (literal arguments only). A bare module name is searched for C(app),
        C(application), C(create_app()) and C(make_app()).
      - The import runs the application's module-level code, in check mode too, with the Python of O(venv).
      - An application wrapped in WSGI middleware (V(wsgi:application) where C(application = ProxyFix(app))) is unwrapped.
      - Exactly one of O(app) and O(config) is required.
    type: str
  venv:
    description:
      - The virtualenv whose C(bin/python) imports O(app). Required with O(app).
    type: path
  chdir:
    description:
      - The directory to import O(app) from (it is put first on the import path), usually the release directory.
      - Only with O(app).
    type: path
  env_file:
    description:
      - A file of C(KEY=value) lines on the target, as used by the service (a systemd C(EnvironmentFile) or a C(.env)
        file), whose variables are set for the import. Blank lines, C(#) comments, C(export) and quoted values are
        understood.
      - Its values are masked in the output like those of O(environment).
      - Only with O(app).
    type: path
  environment:
    description:
      - Environment variables for the import, on top of those of O(env_file). Non-string values are converted to
        strings, booleans to V(true) and V(false).
      - Only with O(app).
    type: dict
  config:
    description:
      - The configuration to check, as a dict of Flask config keys, for example the one a role templates into the
        application's config file.
      - Keys that are missing take Flask's default, so C(SESSION_COOKIE_SECURE) must be given to pass.
      - Exactly one of O(app) and O(config) is required.
    type: dict
  proxy_fix:
    description:
      - Whether the application's C(wsgi_app) is wrapped in werkzeug's C(ProxyFix), when it is known.
      - A configuration dict cannot tell, so with O(config) the V(proxy-fix-missing) rule only runs when this is set.
        With O(app) the module finds out itself, and this option is not allowed.
    type: bool
  https:
    description:
      - Whether the application is served over HTTPS (TLS at the reverse proxy counts). Turns on the cookie and URL
        scheme rules.
    type: bool
    default: true
  behind_proxy:
    description:
      - Whether the application runs behind a reverse proxy such as nginx. Turns on the V(proxy-fix-missing) rule.
    type: bool
    default: true
  server_name:
    description:
      - The host name the site is served as. When C(SERVER_NAME) is set in the configuration it must name this host (a
        port is ignored).
    type: str
  proxy_body_limit:
    description:
      - The largest request body the reverse proxy lets through, in bytes (nginx C(client_max_body_size)).
        C(MAX_CONTENT_LENGTH) must not be larger.
      - Convert nginx sizes with the P(ansible.builtin.human_to_bytes#filter) filter, for example
        V({{ "10M" | ansible.builtin.human_to_bytes }}).
    type: int
  rules:
    description:
      - The ids of the rules to run. All rules when not set.
    type: list
    elements: str
    choices: &rule_ids
      - app-import
      - debug-enabled
      - testing-enabled
      - secret-key-missing
      - secret-key-placeholder
      - secret-key-short
      - secret-key-low-entropy
      - session-cookie-insecure
      - session-cookie-httponly-disabled
      - session-cookie-samesite-unset
      - remember-cookie-insecure
      - preferred-url-scheme-http
      - proxy-fix-missing
      - sqlite-database
      - max-content-length-unset
      - max-content-length-exceeds-proxy
      - csrf-disabled
      - server-name-mismatch
      - explain-template-loading
  skip_rules:
    description:
      - The ids of rules not to run, for example V(sqlite-database) for an application that uses SQLite on purpose.
    type: list
    elements: str
    default: []
    choices: *rule_ids
  fail_on:
    description:
      - The lowest severity that fails the task. With V(error), warnings are reported but do not fail it.
    type: str
    default: error
    choices: [error, warning]
notes:
  - O(config) and O(environment) are C(no_log) options. The module never returns their values, and Ansible masks any
    returned string that contains one of their values (or a value of O(env_file)) of 8 characters or more, so a fact
    that repeats such a value, like RV(facts.server_name), shows as masked. Shorter values (V(Lax), V(/), V(0)) are
    not masked; they are too short to be secrets and masking them would garble every message.
  - With O(app), the application is imported in a separate process of its own Python. Its output is discarded, apart from
    the last line of the exception when the import fails. Use the task keyword C(timeout) if the import may hang.
seealso:
  - module: flaskops.deploy.health_check
    description: Verify that the application answers as expected once it runs.
  - name: Flask configuration handling
    description: The configuration keys that Flask knows, and their defaults.
    link: https://flask.palletsprojects.com/en/stable/config/
  - name: Flask security considerations
    description: Security headers and cookie options.
    link: https://flask.palletsprojects.com/en/stable/web-security/
"""

EXAMPLES = r"""
- name: Check the new release with the environment the service will have
  flaskops.deploy.flask_config_validate:
    app: wsgi:app
    venv: /srv/hello_app/releases/20250101120000/.venv
    chdir: /srv/hello_app/releases/20250101120000
    env_file: /etc/hello_app/env
    server_name: app.example.com
    proxy_body_limit: "{{ '16M' | ansible.builtin.human_to_bytes }}"
    skip_rules:
      - sqlite-database

- name: Check an application factory with extra variables
  flaskops.deploy.flask_config_validate:
    app: hello_app:create_app()
    venv: /srv/hello_app/current/.venv
    chdir: /srv/hello_app/current
    environment:
      FLASK_SECRET_KEY: "{{ hello_app_secret_key }}"
      FLASK_SESSION_COOKIE_SECURE: "true"
      FLASK_PREFERRED_URL_SCHEME: https

- name: Check the settings a role is about to template, before writing them
  flaskops.deploy.flask_config_validate:
    config:
      SECRET_KEY: "{{ hello_app_secret_key }}"
      SESSION_COOKIE_SECURE: true
      SESSION_COOKIE_SAMESITE: Lax
      PREFERRED_URL_SCHEME: https
      MAX_CONTENT_LENGTH: 16777216
      SQLALCHEMY_DATABASE_URI: "{{ hello_app_database_url }}"
    proxy_fix: true
    server_name: app.example.com
  delegate_to: localhost

- name: Be strict about warnings too, and report without failing
  flaskops.deploy.flask_config_validate:
    app: wsgi:app
    venv: /srv/hello_app/current/.venv
    chdir: /srv/hello_app/current
    env_file: /etc/hello_app/env
    fail_on: warning
  register: hello_app_config
  failed_when: false

- name: Show the findings
  ansible.builtin.debug:
    msg: "{{ item.id }} ({{ item.severity }}): {{ item.message }} -- {{ item.remediation }}"
  loop: "{{ hello_app_config.findings }}"
"""

RETURN = r"""
valid:
  description: Whether there is no finding at or above O(fail_on). When V(false) the module fails.
  returned: always
  type: bool
  sample: false
findings:
  description: What the rules found, in the order of the rule table.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The rule id, as used by O(rules) and O(skip_rules).
      type: str
      sample: secret-key-short
    severity:
      description: V(error) or V(warning).
      type: str
      sample: error
    message:
      description: What is wrong.
      type: str
      sample: SECRET_KEY is 12 bytes long, shorter than 32 bytes
    remediation:
      description: How to fix it.
      type: str
      sample: Use a SECRET_KEY of at least 32 random bytes, for example secrets.token_hex(32).
  sample:
    - id: session-cookie-insecure
      severity: error
      message: "SESSION_COOKIE_SECURE is off although the site is served over HTTPS: the session cookie is also sent over
        plain HTTP"
      remediation: Set SESSION_COOKIE_SECURE = True.
error_count:
  description: How many findings have the severity V(error).
  returned: always
  type: int
  sample: 1
warning_count:
  description:
    - How many findings have the severity V(warning).
    - Named so because C(warnings) is a result key reserved by Ansible.
  returned: always
  type: int
  sample: 2
proxy_fix:
  description: Whether C(app.wsgi_app) is wrapped in C(ProxyFix); V(null) when unknown (O(config) without O(proxy_fix), or
    an import that failed).
  returned: always
  type: bool
  sample: true
facts:
  description:
    - The non-secret facts the rules were run on. Empty when the application could not be imported.
  returned: always
  type: dict
  contains:
    debug:
      description: C(DEBUG).
      type: bool
    testing:
      description: C(TESTING).
      type: bool
    secret_key_set:
      description: Whether C(SECRET_KEY) is set and not empty.
      type: bool
    secret_key_length:
      description: The length of C(SECRET_KEY) in bytes (UTF-8 for text).
      type: int
      sample: 64
    secret_key_entropy:
      description: The Shannon entropy of C(SECRET_KEY), in bits per character (per byte for a bytes key).
      type: float
      sample: 3.89
    secret_key_placeholder:
      description: Whether C(SECRET_KEY) is a well-known placeholder.
      type: bool
    session_cookie_secure:
      description: C(SESSION_COOKIE_SECURE).
      type: bool
    session_cookie_httponly:
      description: C(SESSION_COOKIE_HTTPONLY).
      type: bool
    session_cookie_samesite:
      description: C(SESSION_COOKIE_SAMESITE), or V(null).
      type: str
      sample: Lax
    flask_login:
      description: Whether Flask-Login is in use.
      type: bool
    remember_cookie_secure:
      description: C(REMEMBER_COOKIE_SECURE), or V(null) when it is not set.
      type: bool
    preferred_url_scheme:
      description: C(PREFERRED_URL_SCHEME).
      type: str
      sample: https
    max_content_length:
      description: C(MAX_CONTENT_LENGTH) in bytes, or V(null).
      type: int
      sample: 16777216
    wtf_csrf_enabled:
      description: C(WTF_CSRF_ENABLED), or V(null) when it is not set.
      type: bool
    server_name:
      description: C(SERVER_NAME), or V(null).
      type: str
    explain_template_loading:
      description: C(EXPLAIN_TEMPLATE_LOADING).
      type: bool
    proxy_fix:
      description: Same as RV(proxy_fix).
      type: bool
    proxy_fix_x_proto:
      description: The C(x_proto) of the C(ProxyFix) found, or V(null).
      type: int
    database_schemes:
      description: The URL scheme of each database setting, for example V(postgresql+psycopg), never the URL itself.
      type: dict
      sample: {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg"}
    sqlite_keys:
      description: The database settings that point to SQLite.
      type: list
      elements: str
    static_folder:
      description:
        - The absolute path of the application's C(static_folder), or V(null) when it has none.
        - Used by the app role to serve a package's static files (C(app_static_dir=auto)).
      type: str
      returned: with O(app)
      sample: /srv/hello_app/releases/20250101120000/hello_app/static
    static_url_path:
      description: The application's C(static_url_path), or V(null) when it has no static folder.
      type: str
      returned: with O(app)
      sample: /static
    flask_version:
      description: The version of Flask in O(venv).
      type: str
      returned: with O(app)
      sample: 3.1.2
  sample:
    debug: false
    secret_key_length: 64
    secret_key_entropy: 3.89
    session_cookie_secure: true
duration:
  description: The seconds the check took (importing the application included).
  returned: when the check ran
  type: float
  sample: 0.82
msg:
  description: The findings at or above O(fail_on), one after another.
  returned: failure
  type: str
  sample: "1 finding at or above error: session-cookie-insecure (error): SESSION_COOKIE_SECURE is off although ..."
"""

import inspect
import os
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.flaskops.deploy.plugins.module_utils import _flask_facts
from ansible_collections.flaskops.deploy.plugins.module_utils._flask_config import (
    RULE_IDS,
    check_report,
    environment_strings,
    is_env_name,
    maskable,
    parse_env_file,
    probe_facts,
)

# Values of no_log inputs shorter than this are not masked in the output (see the notes).
MIN_MASKED_LENGTH = 8
NO_LOG_OPTIONS = ("config", "environment")
MASKED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def _python_of(module: AnsibleModule, venv: str) -> str:
    if not os.path.isdir(venv):
        module.fail_json(msg=f"venv {venv!r} is not a directory")
    for name in ("python", "python3"):
        candidate = os.path.join(venv, "bin", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    module.fail_json(msg=f"venv {venv!r} has no executable bin/python")


def _environment(module: AnsibleModule) -> dict[str, str]:
    params = module.params
    env: dict[str, str] = {}
    if params["env_file"] is not None:
        try:
            with open(params["env_file"], encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            module.fail_json(msg=f"env_file {params['env_file']!r} cannot be read: {to_native(error)}")
        try:
            from_file = parse_env_file(text)
        except ValueError as error:
            module.fail_json(msg=f"env_file {params['env_file']!r}: {error}")
        # The file's values are as secret as those of the environment option.
        module.no_log_values.update(maskable(from_file.values(), MIN_MASKED_LENGTH))
        env.update(from_file)
    env.update(environment_strings(params["environment"]))
    return env


def _probe_source(module: AnsibleModule) -> str:
    try:
        return inspect.getsource(_flask_facts)
    except (OSError, TypeError) as error:
        module.fail_json(msg=f"cannot read the source of the configuration probe: {to_native(error)}")


def app_facts(module: AnsibleModule) -> dict[str, t.Any]:
    """Import the application in its own Python and return the facts it reports."""
    params = module.params
    python = _python_of(module, params["venv"])
    if params["chdir"] is not None and not os.path.isdir(params["chdir"]):
        module.fail_json(msg=f"chdir {params['chdir']!r} is not a directory")
    env = _environment(module)
    rc, out, err = module.run_command(
        [python, "-c", _probe_source(module), params["app"]],
        cwd=params["chdir"],
        environ_update=env,
        expand_user_and_vars=False,
        check_rc=False,
    )
    return probe_facts(out, err, rc, python, _flask_facts.PROBE_MARKER)


def _invocation(module: AnsibleModule) -> dict[str, t.Any]:
    args = dict(module.params)
    for name in NO_LOG_OPTIONS:
        if args.get(name) is not None:
            args[name] = MASKED
    return {"module_args": args}


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec={
            "app": {"type": "str"},
            "venv": {"type": "path"},
            "chdir": {"type": "path"},
            "env_file": {"type": "path"},
            "environment": {"type": "dict", "no_log": True},
            "config": {"type": "dict", "no_log": True},
            "proxy_fix": {"type": "bool"},
            "https": {"type": "bool", "default": True},
            "behind_proxy": {"type": "bool", "default": True},
            "server_name": {"type": "str"},
            "proxy_body_limit": {"type": "int"},
            "rules": {"type": "list", "elements": "str", "choices": list(RULE_IDS)},
            "skip_rules": {"type": "list", "elements": "str", "default": [], "choices": list(RULE_IDS)},
            "fail_on": {"type": "str", "default": "error", "choices": ["error", "warning"]},
        },
        required_one_of=[["app", "config"]],
        mutually_exclusive=[
            ["app", "config"],
            ["config", "venv"],
            ["config", "chdir"],
            ["config", "env_file"],
            ["config", "environment"],
            ["app", "proxy_fix"],
        ],
        required_by={"app": "venv"},
        supports_check_mode=True,
    )
    # Masking short values such as "Lax", "/" or "0" everywhere would garble the output; they are no secrets.
    # The invocation returned below hides config and environment as a whole.
    module.no_log_values = maskable(module.no_log_values, MIN_MASKED_LENGTH)
    params = module.params
    started = time.monotonic()

    if params["rules"] is not None and not params["rules"]:
        module.fail_json(msg="rules must name at least one rule; leave it unset to run all rules")
    if params["proxy_body_limit"] is not None and params["proxy_body_limit"] < 1:
        module.fail_json(msg=f"proxy_body_limit must be a positive number of bytes, got {params['proxy_body_limit']}")
    if params["server_name"] is not None and not params["server_name"].strip():
        module.fail_json(msg="server_name must not be empty")
    bad_names = sorted(name for name in (params["environment"] or {}) if not is_env_name(str(name)))
    if bad_names:
        module.fail_json(msg=f"environment has invalid variable names: {', '.join(repr(name) for name in bad_names)}")
    if params["config"] is not None:
        bad_keys = sorted(repr(key) for key in params["config"] if not isinstance(key, str))
        if bad_keys:
            module.fail_json(msg=f"config keys must be strings, got {', '.join(bad_keys)}")

    if params["app"] is not None:
        facts = app_facts(module)
    else:
        facts = _flask_facts.config_facts(params["config"], proxy_fix=params["proxy_fix"])

    options = {
        "app": params["app"],
        "https": params["https"],
        "behind_proxy": params["behind_proxy"],
        "server_name": params["server_name"],
        "proxy_body_limit": params["proxy_body_limit"],
    }
    report, refusal = check_report(facts, options, params["rules"], params["skip_rules"], params["fail_on"])
    result: dict[str, t.Any] = {
        "changed": False,
        **report,
        "invocation": _invocation(module),
        "duration": round(time.monotonic() - started, 3),
    }
    if refusal:
        module.fail_json(msg=refusal, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
