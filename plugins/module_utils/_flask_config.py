# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module utility is PRIVATE to the flaskops.deploy collection. It can change at any time.

"""The rules of flaskops.deploy.flask_config_validate, and the pure helpers around them.

The rules work on the facts dict made by ``_flask_facts.config_facts`` (or by the probe that runs
in the application's Python) and on the check options (``https``, ``behind_proxy``,
``server_name``, ``proxy_body_limit``, ``app``). Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
import typing as t

ERROR = "error"
WARNING = "warning"
SEVERITY_RANK = {WARNING: 1, ERROR: 2}

SECRET_KEY_MIN_BYTES = 32
SECRET_KEY_MIN_ENTROPY = 3.0

Facts = t.Mapping[str, t.Any]
Options = t.Mapping[str, t.Any]


class Rule(t.NamedTuple):
    id: str
    severity: str
    remediation: str
    # Returns None when the rule does not fire, else the message of the finding.
    check: t.Callable[[Facts, Options], t.Optional[str]]


def _import(facts: Facts, options: Options) -> str | None:
    error = facts.get("app_import_error")
    if error is None:
        return None
    return f"the application {options.get('app')!r} could not be imported: {error}"


def _debug(facts: Facts, options: Options) -> str | None:
    if facts.get("debug"):
        return "DEBUG is on: the interactive debugger lets anyone who can trigger an error run code on the server"
    return None


def _testing(facts: Facts, options: Options) -> str | None:
    if facts.get("testing"):
        return "TESTING is on: errors propagate instead of being handled, and extensions relax their checks"
    return None


def _secret_missing(facts: Facts, options: Options) -> str | None:
    if not facts.get("secret_key_set"):
        return "SECRET_KEY is not set: sessions and other signed data cannot be protected"
    return None


def _secret_placeholder(facts: Facts, options: Options) -> str | None:
    if facts.get("secret_key_set") and facts.get("secret_key_placeholder"):
        return "SECRET_KEY is a well-known placeholder: anyone can forge session cookies"
    return None


def _secret_usable(facts: Facts) -> bool:
    # A placeholder is reported as such; its length and entropy do not matter then.
    return bool(facts.get("secret_key_set")) and not facts.get("secret_key_placeholder")


def _secret_short(facts: Facts, options: Options) -> str | None:
    length = facts.get("secret_key_length") or 0
    if _secret_usable(facts) and length < SECRET_KEY_MIN_BYTES:
        return f"SECRET_KEY is {length} bytes long, shorter than {SECRET_KEY_MIN_BYTES} bytes"
    return None


def _secret_low_entropy(facts: Facts, options: Options) -> str | None:
    entropy = facts.get("secret_key_entropy") or 0.0
    if _secret_usable(facts) and entropy < SECRET_KEY_MIN_ENTROPY:
        return (
            f"SECRET_KEY has {entropy:.2f} bits of entropy per character, less than {SECRET_KEY_MIN_ENTROPY:.1f}: "
            "it looks like a word or a repeated pattern, not random data"
        )
    return None


def _session_secure(facts: Facts, options: Options) -> str | None:
    if options.get("https") and not facts.get("session_cookie_secure"):
        return "SESSION_COOKIE_SECURE is off although the site is served over HTTPS: the session cookie is also sent over plain HTTP"
    return None


def _session_httponly(facts: Facts, options: Options) -> str | None:
    if not facts.get("session_cookie_httponly"):
        return "SESSION_COOKIE_HTTPONLY is off: scripts in the page (and any XSS) can read the session cookie"
    return None


def _session_samesite(facts: Facts, options: Options) -> str | None:
    value = facts.get("session_cookie_samesite")
    if value is None or value == "":
        return "SESSION_COOKIE_SAMESITE is not set: browsers decide whether the session cookie goes with cross-site requests"
    if str(value).lower() == "none":
        return "SESSION_COOKIE_SAMESITE is None: the session cookie is sent with every cross-site request"
    return None


def _remember_secure(facts: Facts, options: Options) -> str | None:
    if options.get("https") and facts.get("flask_login") and facts.get("remember_cookie_secure") is not True:
        return (
            "REMEMBER_COOKIE_SECURE is not on although the site is served over HTTPS and Flask-Login is used: "
            "the long-lived remember-me cookie is also sent over plain HTTP"
        )
    return None


def _preferred_scheme(facts: Facts, options: Options) -> str | None:
    if options.get("https") and str(facts.get("preferred_url_scheme") or "").lower() != "https":
        return "PREFERRED_URL_SCHEME is not https: URLs built outside a request (e-mails, background jobs) start with http://"
    return None


def _proxy_fix(facts: Facts, options: Options) -> str | None:
    if not options.get("behind_proxy"):
        return None
    if facts.get("proxy_fix") is False:
        return (
            "the app runs behind a reverse proxy but its wsgi_app is not wrapped in ProxyFix: url_for builds "
            "http:// links and request.remote_addr is the proxy's address"
        )
    if facts.get("proxy_fix") and facts.get("proxy_fix_x_proto") == 0:
        return "ProxyFix is used with x_proto=0: X-Forwarded-Proto is ignored and url_for builds http:// links"
    return None


def _sqlite(facts: Facts, options: Options) -> str | None:
    keys = facts.get("sqlite_keys") or []
    if keys:
        return f"{', '.join(keys)} points to an SQLite database: one writer at a time, and backups need care"
    return None


def _max_content_unset(facts: Facts, options: Options) -> str | None:
    if facts.get("max_content_length") is None:
        return "MAX_CONTENT_LENGTH is not set: the app accepts request bodies of any size"
    return None


def _max_content_over_proxy(facts: Facts, options: Options) -> str | None:
    limit = options.get("proxy_body_limit")
    value = facts.get("max_content_length")
    if limit is not None and value is not None and value > limit:
        return (
            f"MAX_CONTENT_LENGTH is {value} bytes, more than the proxy's body limit of {limit} bytes: the proxy "
            "rejects uploads that the app means to accept"
        )
    return None


def _csrf(facts: Facts, options: Options) -> str | None:
    if facts.get("wtf_csrf_enabled") is False:
        return "WTF_CSRF_ENABLED is off: forms accept cross-site request forgeries"
    return None


def host_of(server_name: str) -> str:
    """The host part of a SERVER_NAME or of a domain, lower case, without port or trailing dot."""
    text = server_name.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0]
    if text.startswith("["):
        return text.split("]", 1)[0] + "]"
    return text.rsplit(":", 1)[0].rstrip(".") if ":" in text else text.rstrip(".")


def _server_name(facts: Facts, options: Options) -> str | None:
    expected = options.get("server_name")
    actual = facts.get("server_name")
    if expected and actual and host_of(str(actual)) != host_of(str(expected)):
        return (
            f"SERVER_NAME is {actual!r} but the site is served as {expected!r}: Flask answers 404 to requests "
            "for other host names and builds URLs with the wrong one"
        )
    return None


def _explain_templates(facts: Facts, options: Options) -> str | None:
    if facts.get("explain_template_loading"):
        return "EXPLAIN_TEMPLATE_LOADING is on: every template lookup is logged in detail"
    return None


RULES: tuple[Rule, ...] = (
    Rule("app-import", ERROR,
         "Run the same import in the application's virtualenv, directory and environment and fix the error; "
         "check the app, venv, chdir, env_file and environment options.", _import),
    Rule("debug-enabled", ERROR,
         "Set DEBUG = False and remove FLASK_DEBUG from the service environment; serve with gunicorn or "
         "waitress, never with 'flask run --debug'.", _debug),
    Rule("testing-enabled", ERROR, "Set TESTING = False outside the test suite.", _testing),
    Rule("secret-key-missing", ERROR,
         "Set SECRET_KEY from a secret kept out of the code (an environment file readable only by the app), "
         "generated with: python -c 'import secrets; print(secrets.token_hex(32))'.", _secret_missing),
    Rule("secret-key-placeholder", ERROR,
         "Replace SECRET_KEY with a random value: python -c 'import secrets; print(secrets.token_hex(32))'. "
         "Sessions signed with the old key become invalid.", _secret_placeholder),
    Rule("secret-key-short", ERROR,
         "Use a SECRET_KEY of at least 32 random bytes, for example secrets.token_hex(32).", _secret_short),
    Rule("secret-key-low-entropy", ERROR,
         "Use a randomly generated SECRET_KEY (secrets.token_hex(32)) instead of a word or a pattern.", _secret_low_entropy),
    Rule("session-cookie-insecure", ERROR, "Set SESSION_COOKIE_SECURE = True.", _session_secure),
    Rule("session-cookie-httponly-disabled", ERROR, "Set SESSION_COOKIE_HTTPONLY = True (the Flask default).", _session_httponly),
    Rule("session-cookie-samesite-unset", WARNING,
         "Set SESSION_COOKIE_SAMESITE = 'Lax' (or 'Strict' when no cross-site navigation needs the session).", _session_samesite),
    Rule("remember-cookie-insecure", ERROR, "Set REMEMBER_COOKIE_SECURE = True.", _remember_secure),
    Rule("preferred-url-scheme-http", WARNING, "Set PREFERRED_URL_SCHEME = 'https'.", _preferred_scheme),
    Rule("proxy-fix-missing", WARNING,
         "Wrap the app: app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1), with one hop per "
         "proxy in front of the app.", _proxy_fix),
    Rule("sqlite-database", WARNING,
         "Use a database server (PostgreSQL, MariaDB) for concurrent writers, or keep SQLite deliberately with "
         "WAL mode and online backups (VACUUM INTO or .backup), and skip this rule.", _sqlite),
    Rule("max-content-length-unset", WARNING,
         "Set MAX_CONTENT_LENGTH to the largest upload the app accepts, in bytes (for example 16 * 1024 * 1024).",
         _max_content_unset),
    Rule("max-content-length-exceeds-proxy", ERROR,
         "Make MAX_CONTENT_LENGTH and the proxy's body limit (nginx client_max_body_size) agree: lower "
         "MAX_CONTENT_LENGTH or raise the proxy's limit.", _max_content_over_proxy),
    Rule("csrf-disabled", ERROR,
         "Remove WTF_CSRF_ENABLED = False (CSRF protection is on by default) and send the token with every form "
         "and AJAX request.", _csrf),
    Rule("server-name-mismatch", ERROR,
         "Set SERVER_NAME to the public host name, or leave it unset so that Flask uses the Host header.", _server_name),
    Rule("explain-template-loading", WARNING, "Set EXPLAIN_TEMPLATE_LOADING = False.", _explain_templates),
)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def selected_rules(rules: t.Iterable[str] | None = None, skip_rules: t.Iterable[str] | None = None) -> list[Rule]:
    """The rules to run, in table order: all of them (or those in ``rules``) minus ``skip_rules``."""
    wanted = set(RULE_IDS if rules is None else rules)
    skipped = set(skip_rules or ())
    unknown = sorted((wanted | skipped) - set(RULE_IDS))
    if unknown:
        raise ValueError(f"unknown rule ids: {', '.join(unknown)}")
    return [rule for rule in RULES if rule.id in wanted and rule.id not in skipped]


def evaluate(facts: Facts, options: Options, rules: t.Iterable[str] | None = None,
             skip_rules: t.Iterable[str] | None = None) -> list[dict[str, str]]:
    """Run the selected rules; return the findings (``id``, ``severity``, ``message``, ``remediation``).

    When the application could not be imported, only ``app-import`` can be judged.
    """
    findings = []
    import_failed = facts.get("app_import_error") is not None
    for rule in selected_rules(rules, skip_rules):
        if import_failed and rule.id != "app-import":
            continue
        message = rule.check(facts, options)
        if message is not None:
            findings.append({"id": rule.id, "severity": rule.severity, "message": message, "remediation": rule.remediation})
    return findings


def count(findings: t.Iterable[t.Mapping[str, str]], severity: str) -> int:
    return sum(1 for finding in findings if finding["severity"] == severity)


def failing(findings: t.Iterable[t.Mapping[str, str]], fail_on: str) -> list[t.Mapping[str, str]]:
    """The findings at or above the ``fail_on`` severity."""
    threshold = SEVERITY_RANK[fail_on]
    return [finding for finding in findings if SEVERITY_RANK[finding["severity"]] >= threshold]


def summary(findings: t.Sequence[t.Mapping[str, str]]) -> str:
    return "; ".join(f"{finding['id']} ({finding['severity']}): {finding['message']}" for finding in findings)


# --- environment for mode ``app`` -----------------------------------------------------------------

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_DOUBLE_QUOTE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$", "`": "`"}


def is_env_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name))


def _unquote_double(text: str) -> str:
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            out.append(_DOUBLE_QUOTE_ESCAPES.get(following, "\\" + following))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def parse_env_file(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines, as in a systemd EnvironmentFile or a ``.env`` file.

    Blank lines and ``#`` comments are skipped, ``export`` is allowed, values may be in single
    quotes (taken literally) or double quotes (backslash escapes), and an unquoted value ends at
    `` #``. Later lines win. Raises ``ValueError`` naming the line number (never its content,
    which may be a secret).
    """
    result: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if not match:
            raise ValueError(f"line {number} is not KEY=VALUE")
        name, value = match.group(1), match.group(2)
        if value[:1] in ("'", '"'):
            quote = value[0]
            end = value.find(quote, 1)
            while quote == '"' and end > 0 and value[end - 1] == "\\":
                end = value.find(quote, end + 1)
            if end < 0:
                raise ValueError(f"line {number} has an unterminated {quote} quote")
            rest = value[end + 1:].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"line {number} has text after the closing quote")
            inner = value[1:end]
            value = inner if quote == "'" else _unquote_double(inner)
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
        result[name] = value
    return result


def environment_strings(environment: t.Mapping[str, t.Any] | None) -> dict[str, str]:
    """Environment values as strings: booleans become ``true``/``false``, None an empty string."""
    result = {}
    for name, value in (environment or {}).items():
        if isinstance(value, bool):
            result[str(name)] = "true" if value else "false"
        elif value is None:
            result[str(name)] = ""
        else:
            result[str(name)] = str(value)
    return result


def maskable(values: t.Iterable[str], min_length: int) -> set[str]:
    """The values worth masking in the output: those at least ``min_length`` characters long.

    Shorter values ("Lax", "/", "0", "true") would garble every message if masked, and are not secrets.
    """
    return {value for value in values if len(value) >= min_length}


def parse_probe_output(stdout: str, marker: str) -> dict[str, t.Any] | None:
    """Find the probe's JSON report after ``marker`` in the output (the last one wins)."""
    report = None
    for line in stdout.splitlines():
        if line.startswith(marker):
            try:
                report = json.loads(line[len(marker):])
            except ValueError:
                report = None
    return report if isinstance(report, dict) else None


def probe_facts(stdout: str, stderr: str, rc: int, python: str, marker: str) -> dict[str, t.Any]:
    """The facts of the probe's run in the application's Python (``python -c SOURCE IMPORT_STRING``): those it
    reported after ``marker``, or ``{"app_import_error": reason}`` when it reported none or an error (the reason is
    the last line of stderr, or the exit code)."""
    report = parse_probe_output(stdout, marker)
    if report is None:
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        return {"app_import_error": lines[-1] if lines else f"{python} exited with code {rc} and no report"}
    if not report.get("ok"):
        return {"app_import_error": report.get("error") or "unknown error"}
    return report.get("facts") or {}


def check_report(facts: Facts, options: Options, rules: t.Iterable[str] | None, skip_rules: t.Iterable[str] | None,
                 fail_on: str) -> tuple[dict[str, t.Any], str | None]:
    """Evaluate the rules on ``facts`` and return ``(result, refusal)``: the result of a check (``valid``,
    ``findings``, the counts, the facts and ``proxy_fix``, none of them after a failed import) and the message that
    refuses the configuration (``None`` when no finding is at or above ``fail_on``)."""
    findings = evaluate(facts, options, rules, skip_rules)
    blocking = failing(findings, fail_on)
    import_failed = "app_import_error" in facts
    result = {
        "valid": not blocking,
        "findings": findings,
        "error_count": count(findings, ERROR),
        "warning_count": count(findings, WARNING),
        "facts": {} if import_failed else dict(facts),
        "proxy_fix": None if import_failed else facts.get("proxy_fix"),
    }
    if not blocking:
        return result, None
    plural = "" if len(blocking) == 1 else "s"
    return result, f"{len(blocking)} finding{plural} at or above {fail_on}: {summary(blocking)}"
