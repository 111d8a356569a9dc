from __future__ import annotations

import os

import pytest

from ansible.errors import AnsibleLookupError

from ansible_collections.flaskops.deploy.plugins.module_utils._tree_hash import tree_hash


def make_tree(root):
    (root / "pkg").mkdir()
    (root / "pkg" / "a.py").write_text("print('a')\n")
    (root / "wsgi.py").write_text("app = None\n")
    return root


def test_same_content_same_hash(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = make_tree(tmp_path / "a")
    b = make_tree(tmp_path / "b")
    assert tree_hash(str(a)) == tree_hash(str(b))


def test_content_change_changes_hash(tmp_path):
    root = make_tree(tmp_path)
    before = tree_hash(str(root))
    (root / "pkg" / "a.py").write_text("print('b')\n")
    assert tree_hash(str(root)) != before


def test_rename_changes_hash(tmp_path):
    root = make_tree(tmp_path)
    before = tree_hash(str(root))
    os.rename(root / "wsgi.py", root / "app.py")
    assert tree_hash(str(root)) != before


def test_mode_change_changes_hash(tmp_path):
    root = make_tree(tmp_path)
    before = tree_hash(str(root))
    os.chmod(root / "wsgi.py", 0o755)
    assert tree_hash(str(root)) != before


def test_excluded_names_do_not_count(tmp_path):
    root = make_tree(tmp_path)
    before = tree_hash(str(root), ["__pycache__", "*.pyc"])
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0\1")
    (root / "stray.pyc").write_bytes(b"\0")
    assert tree_hash(str(root), ["__pycache__", "*.pyc"]) == before


def test_single_file(tmp_path):
    f = tmp_path / "release.tar.gz"
    f.write_bytes(b"archive")
    assert len(tree_hash(str(f))) == 64


@pytest.fixture
def lookup():
    """The lookup with its documented options registered, as the plugin loader would."""
    import yaml
    from ansible import constants as C
    from ansible_collections.flaskops.deploy.plugins.lookup import tree_hash as plugin

    name = "flaskops.deploy.tree_hash"
    C.config.initialize_plugin_configuration_definitions("lookup", name, yaml.safe_load(plugin.DOCUMENTATION)["options"])
    instance = plugin.LookupModule()
    instance._load_name = name
    return instance


def test_lookup_plugin_truncates_and_fails_on_missing(tmp_path, lookup):
    root = make_tree(tmp_path)
    assert lookup.run([str(root)], variables={}) == [tree_hash(str(root), lookup.get_option("exclude"))[:12]]
    assert len(lookup.run([str(root)], variables={}, length=20)[0]) == 20
    with pytest.raises(AnsibleLookupError, match="does not exist"):
        lookup.run([str(tmp_path / "missing")], variables={})
