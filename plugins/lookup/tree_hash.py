# Copyright: flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: tree_hash
author: flaskops.deploy maintainers (@flaskops)
short_description: A stable content hash of a directory tree or a file on the controller
version_added: 1.0.0
description:
  - Returns the SHA-256 of a directory's files (their relative paths, modes and contents) or of a single file.
  - The role C(flaskops.deploy.app) uses it as the default release id, so the same source gives the same
    release and a re-run changes nothing.
  - Files and directories whose name matches one of O(exclude) are left out (at any depth).
options:
  _terms:
    description: Paths of directories or files on the controller.
    required: true
    type: list
    elements: path
  exclude:
    description: Shell-style patterns of names to leave out.
    type: list
    elements: str
    default: ['.git', '__pycache__', '*.pyc', '.venv', '.pytest_cache', '.mypy_cache']
  length:
    description: Number of hex digits to return.
    type: int
    default: 12
"""

EXAMPLES = r"""
- name: Release id of the application source
  ansible.builtin.debug:
    msg: "{{ lookup('flaskops.deploy.tree_hash', 'examples/hello_app') }}"
"""

RETURN = r"""
_raw:
  description: One hex digest (truncated to O(length)) per term.
  type: list
  elements: str
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.flaskops.deploy.plugins.module_utils._tree_hash import tree_hash


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        exclude = self.get_option("exclude")
        length = self.get_option("length")
        result = []
        for term in terms:
            path = os.path.expanduser(term)
            if not os.path.exists(path):
                raise AnsibleLookupError("tree_hash: '%s' does not exist on the controller" % term)
            result.append(tree_hash(path, exclude)[:length])
        return result
