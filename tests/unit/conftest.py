# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make this checkout importable as ``ansible_collections.flaskops.deploy`` for plain pytest runs.

``ansible-test units`` runs the tests from an ``ansible_collections/flaskops/deploy`` tree and
needs nothing of this. A plain ``python -m pytest tests/unit`` from the repository root does:
the collection is linked into a temporary ``ansible_collections`` tree that is put on sys.path.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_importable() -> bool:
    try:
        spec = importlib.util.find_spec("ansible_collections.flaskops.deploy")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(os.path.realpath(path) == os.path.realpath(COLLECTION_ROOT) for path in spec.submodule_search_locations)


def _link_collection() -> None:
    root = tempfile.mkdtemp(prefix="flaskops-deploy-units-")
    atexit.register(shutil.rmtree, root, True)
    namespace = os.path.join(root, "ansible_collections", "flaskops")
    os.makedirs(namespace)
    os.symlink(COLLECTION_ROOT, os.path.join(namespace, "deploy"))
    sys.path.insert(0, root)
    for name in [name for name in sys.modules if name == "ansible_collections" or name.startswith("ansible_collections.flaskops")]:
        del sys.modules[name]
    importlib.invalidate_caches()


if not _collection_importable():
    _link_collection()
