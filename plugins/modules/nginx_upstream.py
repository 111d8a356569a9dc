#!/usr/bin/python
# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


DOCUMENTATION = r"""
module: nginx_upstream
short_description: Set the servers of a site's switchable nginx upstream, check nginx's configuration and reload it
version_added: 1.0.0
description:
  - "Each site of the C(nginx) role proxies to an C(upstream) block that includes the file
    C(/etc/nginx/flaskops/<site>.upstream.conf). This module is that file's only writer: the nginx role creates it,
    a blue/green release switch points it at the new slot, and a rolling deploy takes web hosts out of a load
    balancer's file and puts them back."
  - "The file holds either one app server, C(server <address> max_fails=0;) (O(server)), or a load balancer's
    backends, one C(server <address> max_fails=N fail_timeout=Ns;) line each, named by the comment
    C(# backend <name>) at its end and marked C(down) while out of service (O(backends) and O(down)). O(mark_down)
    and O(mark_up) mark some backends of the current file and leave every other line as it is."
  - When the content changes, the module lists nginx's worker processes (RV(drain_pids)), writes the file atomically,
    checks the whole configuration with C(nginx -t) and reloads nginx. When the check or the reload fails, the
    previous file is put back (or the new one removed) and the module fails with nginx's error, so nginx keeps
    running on the configuration it had.
  - After a graceful reload the workers of RV(drain_pids) finish the requests they hold and exit. Wait for them
    before stopping the app server they proxied to.
author:
  - flaskops.deploy maintainers (@flaskops)
extends_documentation_fragment:
  - flaskops.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module reads the file and returns RV(changed), RV(previous) and RV(content) exactly as a real
        run would, without writing the file, running C(nginx -t) or reloading nginx.
  diff_mode:
    support: full
    details:
      - Returns the file before and after.
  idempotent:
    support: full
options:
  site:
    description:
      - The nginx site's name (the nginx role's C(nginx_site_name), by default the application's name). It names the
        file, C(<directory>/<site>.upstream.conf).
      - Letters, digits, V(_), V(.) and V(-), not starting with V(.) or V(-).
    type: str
    required: true
  directory:
    description:
      - The directory of the upstream files. It must exist unless O(create_directory) is set.
    type: path
    default: /etc/nginx/flaskops
  create_directory:
    description:
      - Create O(directory) (mode C(0755), with its parents) when it is missing, before the file is written. The
        nginx role sets it on its first run; a release switch leaves it unset (the directory is there by then).
      - In check mode a missing directory is reported as a change and not created.
    type: bool
    default: false
    version_added: 1.0.0
  server:
    description:
      - The one app server the site proxies to, V(unix:/run/hello/blue.sock) or V(127.0.0.1:8001). The file becomes
        the single line C(server <server> max_fails=0;).
      - Mutually exclusive with O(backends), O(mark_down) and O(mark_up).
    type: str
  backends:
    description:
      - A load balancer's backends, in order. The file is written whole from them, one line each.
      - Mutually exclusive with O(server), O(mark_down) and O(mark_up).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The backend's name, the comment at the end of its line (the web host's inventory hostname, or its address).
            Unique in the list.
        type: str
        required: true
      address:
        description:
          - Where nginx reaches the backend, V(host:port).
        type: str
        required: true
  down:
    description:
      - With O(backends), the names of the backends marked C(down) (out of service). Every other backend is in service.
    type: list
    elements: str
    default: []
  max_fails:
    description:
      - With O(backends), the number of failed attempts after which nginx skips a backend for O(fail_timeout) seconds.
    type: int
    default: 2
  fail_timeout:
    description:
      - With O(backends), the seconds a backend is skipped after O(max_fails) failed attempts.
    type: int
    default: 10
  mark_down:
    description:
      - Names of backends of the load balancer's current file to mark C(down). Only those lines change.
      - Names that no line of the file names are left out (RV(not_found)).
      - The file must exist. Mutually exclusive with O(server) and O(backends).
    type: list
    elements: str
  mark_up:
    description:
      - Names of backends of the load balancer's current file to put back in service. Only those lines change.
      - Names that no line of the file names are left out (RV(not_found)).
      - The file must exist. Mutually exclusive with O(server) and O(backends).
    type: list
    elements: str
  force:
    description:
      - When V(false), an existing file is left as it is and only a missing one is written, like the first run of the
        nginx role does (a release switch owns the file afterwards).
    type: bool
    default: true
  validate:
    description:
      - Check nginx's configuration with O(validate_command) after writing the file; when the check fails, put the
        previous file back and fail with nginx's error.
    type: bool
    default: true
  reload:
    description:
      - Reload nginx with O(reload_command) after a change (and a passing check), and return the workers from before
        the reload in RV(drain_pids).
      - Set V(false) to leave the reload to the nginx role's handlers, with C(notify) to the topic
        V(flaskops nginx reload) (C(nginx -t), then a reload).
    type: bool
    default: true
  validate_command:
    description:
      - The command that checks nginx's configuration, as an argument list. nginx's error is expected on stderr.
    type: list
    elements: str
    default: [nginx, -t, -q]
  reload_command:
    description:
      - The command that reloads nginx gracefully, as an argument list.
    type: list
    elements: str
    default: [systemctl, reload, nginx]
notes:
  - The file is written as C(0644) when it is created; an existing file keeps its owner and mode.
  - "The workers are listed with C(pgrep --full '^nginx: worker process'); without pgrep, RV(drain_pids) is empty."
seealso:
  - module: flaskops.deploy.release
    description: Reads which slot the upstream file serves, and records the slot after the switch.
"""

EXAMPLES = r"""
- name: Send the traffic of site hello to slot green (nginx -t, then a graceful reload)
  flaskops.deploy.nginx_upstream:
    site: hello
    server: unix:/run/hello/green.sock
  register: hello_switch

- name: Wait for the workers that still serve requests of the old slot
  ansible.builtin.command:
    argv: [tail, --pid, "{{ item }}", -f, /dev/null]
  loop: "{{ hello_switch.drain_pids }}"
  changed_when: false
  timeout: 120

- name: Write a load balancer's backends, every one in service
  flaskops.deploy.nginx_upstream:
    site: hello
    backends:
      - name: web1
        address: 10.0.0.11:80
      - name: web2
        address: 10.0.0.12:80
    max_fails: 2
    fail_timeout: 10

- name: Take web2 out of the load balancer while it is deployed
  flaskops.deploy.nginx_upstream:
    site: hello
    mark_down: [web2]

- name: Put web2 back
  flaskops.deploy.nginx_upstream:
    site: hello
    mark_up: [web2]

- name: Create the file when it is missing, and leave the reload to the nginx role's handlers
  flaskops.deploy.nginx_upstream:
    site: hello
    server: unix:/run/hello/gunicorn.sock
    force: false
    reload: false
  notify: flaskops nginx reload
"""

RETURN = r"""
changed:
  description: Whether the file was written (in check mode, whether a real run would write it).
  returned: always
  type: bool
  sample: true
path:
  description: The upstream file.
  returned: always
  type: str
  sample: /etc/nginx/flaskops/hello.upstream.conf
previous:
  description: The file's content before the run; empty when it did not exist.
  returned: always
  type: str
  sample: "server unix:/run/hello/blue.sock max_fails=0;\n"
content:
  description: The file's content after the run (in check mode, what a real run would write).
  returned: always
  type: str
  sample: "server unix:/run/hello/green.sock max_fails=0;\n"
drain_pids:
  description:
    - The process ids of nginx's workers from before the reload, which finish their requests and exit. Empty when
      nothing changed, in check mode and with O(reload=false).
  returned: always
  type: list
  elements: str
  sample: ["4121", "4122"]
reloaded:
  description: Whether nginx was reloaded.
  returned: always
  type: bool
  sample: true
not_found:
  description: The names of O(mark_down) and O(mark_up) that no line of the file names.
  returned: always
  type: list
  elements: str
  sample: []
"""

import os
import tempfile
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.flaskops.deploy.plugins.module_utils._nginx_upstream import (
    UpstreamError,
    mark,
    parse,
    render_backends,
    render_slot,
    upstream_path,
)

WORKERS = ["pgrep", "--full", "^nginx: worker process"]


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")
    except FileNotFoundError:
        return None


def _write(module: AnsibleModule, path: str, content: str) -> None:
    """Replace ``path`` atomically; a new file is made 0644."""
    existed = os.path.exists(path)
    fd, tmp = tempfile.mkstemp(prefix=".upstream-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(content))
        if not existed:
            os.chmod(tmp, 0o644)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if not existed:
        os.chmod(path, 0o644)


def _restore(module: AnsibleModule, path: str, previous: str | None) -> None:
    if previous is None:
        os.unlink(path)
    else:
        _write(module, path, previous)


def _workers(module: AnsibleModule) -> list[str]:
    if not module.get_bin_path(WORKERS[0]):
        return []
    rc, out, dummy = module.run_command(WORKERS)
    return [line.strip() for line in out.splitlines() if line.strip()] if rc == 0 else []


def _content(module: AnsibleModule, previous: str | None) -> tuple[str, list[str]]:
    params = module.params
    if params["server"] is not None:
        return render_slot(params["server"]), []
    if params["backends"] is not None:
        return render_backends(params["backends"], params["down"], params["max_fails"], params["fail_timeout"]), []
    if previous is None:
        raise UpstreamError("there is no upstream file to mark backends in (the nginx role writes it)")
    if parse(previous)["kind"] == "slot":
        raise UpstreamError("the upstream file names one app server, not a load balancer's backends")
    return mark(previous, params["mark_down"] or [], params["mark_up"] or [])


def main() -> t.NoReturn:
    module = AnsibleModule(
        argument_spec=dict(
            site=dict(type="str", required=True),
            directory=dict(type="path", default="/etc/nginx/flaskops"),
            create_directory=dict(type="bool", default=False),
            server=dict(type="str"),
            backends=dict(
                type="list",
                elements="dict",
                options=dict(name=dict(type="str", required=True), address=dict(type="str", required=True)),
            ),
            down=dict(type="list", elements="str", default=[]),
            max_fails=dict(type="int", default=2),
            fail_timeout=dict(type="int", default=10),
            mark_down=dict(type="list", elements="str"),
            mark_up=dict(type="list", elements="str"),
            force=dict(type="bool", default=True),
            validate=dict(type="bool", default=True),
            reload=dict(type="bool", default=True),
            validate_command=dict(type="list", elements="str", default=["nginx", "-t", "-q"]),
            reload_command=dict(type="list", elements="str", default=["systemctl", "reload", "nginx"]),
        ),
        mutually_exclusive=[
            ("server", "backends"),
            ("server", "mark_down"),
            ("server", "mark_up"),
            ("backends", "mark_down"),
            ("backends", "mark_up"),
        ],
        required_one_of=[("server", "backends", "mark_down", "mark_up")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        path = upstream_path(params["site"], params["directory"])
    except UpstreamError as exc:
        module.fail_json(msg=to_native(exc))
    result: dict[str, t.Any] = dict(changed=False, path=path, previous="", content="", drain_pids=[], reloaded=False,
                                    not_found=[])
    if params["down"] and params["backends"] is None:
        module.fail_json(msg="down is only used with backends; mark backends of the current file with mark_down", **result)
    missing_directory = not os.path.isdir(params["directory"])
    if missing_directory and (not params["create_directory"] or os.path.lexists(params["directory"])):
        module.fail_json(msg=f"{params['directory']} is not a directory (the nginx role creates it)", **result)

    previous = _read(path)
    result["previous"] = previous or ""
    try:
        content, not_found = _content(module, previous)
    except UpstreamError as exc:
        result["content"] = result["previous"]
        module.fail_json(msg=f"{path}: {to_native(exc)}", **result)
    if previous is not None and not params["force"]:
        content = previous
    result.update(content=content, not_found=not_found, changed=content != previous)
    if module._diff:
        result["diff"] = dict(before=previous or "", after=content, before_header=path, after_header=path)
    if not result["changed"] or module.check_mode:
        module.exit_json(**result)

    drain_pids = _workers(module) if params["reload"] else []
    if missing_directory:
        os.makedirs(params["directory"])
        os.chmod(params["directory"], 0o755)
    _write(module, path, content)
    if params["validate"]:
        rc, out, err = module.run_command(params["validate_command"])
        if rc != 0:
            _restore(module, path, previous)
            result.update(changed=False, content=result["previous"], rc=rc, stdout=out, stderr=err)
            module.fail_json(
                msg=f"nginx rejected its configuration with the new {path}, so the previous file was put back and "
                    f"nginx was not reloaded: {(err or out).strip()}",
                **result,
            )
    if params["reload"]:
        rc, out, err = module.run_command(params["reload_command"])
        if rc != 0:
            _restore(module, path, previous)
            result.update(changed=False, content=result["previous"], rc=rc, stdout=out, stderr=err)
            module.fail_json(
                msg=f"reloading nginx failed, so the previous {path} was put back: {(err or out).strip()}", **result
            )
        result.update(reloaded=True, drain_pids=drain_pids)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
