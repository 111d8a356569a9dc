# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of flaskops.deploy.nginx_inputs: runs on the controller only (the documentation is in plugins/modules)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.flaskops.deploy.plugins.module_utils import _nginx_inputs as nginx_inputs


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        nginx_site_name=dict(type="str", required=True),
        nginx_server_names=dict(type="list", elements="str", required=True),
        nginx_tls_certificate=dict(type="str", default=""),
        nginx_tls_certificate_key=dict(type="str", default="", no_log=False),
        nginx_acme_webroot=dict(type="str", default="/var/www/acme"),
        nginx_security_headers_profile=dict(type="str", default="compatible"),
        nginx_tls_profile=dict(type="str", default="intermediate"),
        nginx_tls_ocsp_stapling=dict(type="str", default="auto"),
        nginx_limit_req_default_rate=dict(type="str", default="20r/s"),
        nginx_limit_req_default_burst=dict(type="raw", default=200),
        nginx_limit_req_allow=dict(type="list", elements="str", default=[]),
        nginx_limit_req_zones=dict(type="list", elements="raw", default=[]),
        nginx_limit_req_locations=dict(type="list", elements="raw", default=[]),
        nginx_lb_backends=dict(type="list", elements="str", default=[]),
        nginx_lb_backend_port=dict(type="raw", default=80),
        nginx_lb_max_fails=dict(type="raw", default=2),
        nginx_lb_fail_timeout=dict(type="raw", default=10),
        nginx_lb_next_upstream_tries=dict(type="raw", default=2),
        nginx_trusted_proxies=dict(type="list", elements="str", default=[]),
        nginx_websocket=dict(type="raw", default="auto"),
        nginx_websocket_locations=dict(type="list", elements="str", default=[]),
        nginx_websocket_timeout=dict(type="raw", default=3600),
        default_zone=dict(type="str", default="default"),
    )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        problems = nginx_inputs.problems(args, default_zone=args["default_zone"])
        result.update(changed=False, problems=problems)
        if problems:
            result.update(failed=True, msg=" | ".join(problems))
        else:
            result["msg"] = "the inputs of the nginx role for site %s are valid" % args["nginx_site_name"]
        return result
