# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit-test harness for modules, in the style of community.general's ``tests/unit/plugins/modules/utils.py``.

``set_module_args`` is a context manager. On ansible-core 2.19 and later it uses
``ansible.module_utils.testing.patch_module_args``, which serializes the arguments the way the
controller does; on older ansible-core it patches ``basic._ANSIBLE_ARGS`` directly.

    with set_module_args({"url": "http://127.0.0.1:8000/"}):
        result = run_module(health_check.main, AnsibleExitJson)
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import typing as t
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    patch_module_args = None


class AnsibleExitJson(Exception):
    """Raised in place of ``AnsibleModule.exit_json``; ``args[0]`` is the result dict."""

    @property
    def result(self) -> dict[str, t.Any]:
        return self.args[0]


class AnsibleFailJson(Exception):
    """Raised in place of ``AnsibleModule.fail_json``; ``args[0]`` is the result dict (with ``msg``)."""

    @property
    def result(self) -> dict[str, t.Any]:
        return self.args[0]


def exit_json(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def fail_json(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


@contextlib.contextmanager
def set_module_args(args: dict[str, t.Any], check_mode: bool = False) -> t.Iterator[None]:
    """Expose ``args`` (and ``_ansible_check_mode``) to the ``AnsibleModule`` created inside the block."""
    args = dict(args)
    args.setdefault("_ansible_remote_tmp", tempfile.gettempdir())
    args.setdefault("_ansible_keep_remote_files", False)
    if check_mode:
        args["_ansible_check_mode"] = True
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
    else:
        serialized = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        with mock.patch.object(basic, "_ANSIBLE_ARGS", serialized):
            yield


@contextlib.contextmanager
def patch_exits() -> t.Iterator[None]:
    """Make ``exit_json``/``fail_json`` raise ``AnsibleExitJson``/``AnsibleFailJson`` instead of exiting."""
    with mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        yield


def run_module(main: t.Callable[[], t.Any], args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    """Run a module's ``main`` with ``args`` and return the ``exit_json`` result; fail the test on ``fail_json``."""
    with set_module_args(args, check_mode=check_mode), patch_exits():
        with pytest.raises(AnsibleExitJson) as exc:
            main()
    return exc.value.result


def run_module_failing(main: t.Callable[[], t.Any], args: dict[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    """Run a module's ``main`` with ``args`` and return the ``fail_json`` result; fail the test on ``exit_json``."""
    with set_module_args(args, check_mode=check_mode), patch_exits():
        with pytest.raises(AnsibleFailJson) as exc:
            main()
    return exc.value.result


def run_module_output(main: t.Callable[[], t.Any], args: dict[str, t.Any], capsys: t.Any) -> tuple[int, dict[str, t.Any]]:
    """Run a module unpatched and return (exit code, the JSON it printed), as Ansible would receive it.

    Unlike ``run_module``, this goes through AnsibleModule's own output path, so no_log masking applies.
    """
    capsys.readouterr()
    with set_module_args(args):
        with pytest.raises(SystemExit) as exc:
            main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out.strip().splitlines()[-1])
