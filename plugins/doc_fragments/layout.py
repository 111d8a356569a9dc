# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This doc fragment is PRIVATE to the flaskops.deploy collection. It can change at any time.
# Do not use it from other collections or standalone plugins.

from __future__ import annotations


class ModuleDocFragment:
    # The layout option of the modules the app role's calls share it with (module_utils/_host_layout.py merges it).
    DOCUMENTATION = r"""
options:
  layout:
    description:
      - "The host layout the app role's calls share: one dict whose keys are options of this module (C(app_name),
        C(state_file), C(releases_dir), C(marker), ...), instead of the same options in every call. An option the call
        gives wins over the layout's key; a key set to V(null) counts as absent."
      - Keys this module has no option for are ignored (the other modules of the collection take them); a key no
        module knows, or a value of the wrong type, fails the call.
    type: dict
    default: {}
"""
