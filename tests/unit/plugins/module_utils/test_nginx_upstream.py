# Copyright (c) flaskops.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The upstream file's path, its two shapes (one slot, a load balancer's backends), and reading them back."""

from __future__ import annotations

import pytest

from ansible_collections.flaskops.deploy.plugins.module_utils import _nginx_upstream as up

# What the nginx role's lb-upstream.conf.j2 rendered for backends web1 (ansible_host 10.0.0.11), web2
# (flaskops_lb_address web2.internal) and 198.51.100.7 with the role's defaults: the module writes the same bytes, so
# a load balancer's file written by that template is left as it is.
TEMPLATE_RENDERED = (
    "#\n# Ansible managed\n#\n"
    "# Backends of the load balancer, one line each, named by the comment at its end. While a backend is being deployed,\n"
    "# deploy.yml (and rollback.yml, restart.yml) mark its line `down` and reload nginx; the next run of this role puts\n"
    "# back every backend.\n"
    "server 10.0.0.11:80 max_fails=2 fail_timeout=10s; # backend web1\n"
    "server web2.internal:80 max_fails=2 fail_timeout=10s; # backend web2\n"
    "server 198.51.100.7:80 max_fails=2 fail_timeout=10s; # backend 198.51.100.7\n"
)
BACKENDS = [
    {"name": "web1", "address": "10.0.0.11:80"},
    {"name": "web2", "address": "web2.internal:80"},
    {"name": "198.51.100.7", "address": "198.51.100.7:80"},
]


def test_the_path_comes_from_the_site_name() -> None:
    assert up.upstream_path("hello") == "/etc/nginx/flaskops/hello.upstream.conf"
    assert up.upstream_path("my-site.v2", "/tmp/x") == "/tmp/x/my-site.v2.upstream.conf"


@pytest.mark.parametrize("site", ["", "../etc/passwd", "a/b", ".hidden", "-x", "two words", None])
def test_a_site_name_that_cannot_name_a_file_is_refused(site: object) -> None:
    with pytest.raises(up.UpstreamError):
        up.upstream_path(site)  # type: ignore[arg-type]


def test_a_slot_is_one_line() -> None:
    assert up.render_slot("unix:/run/hello/blue.sock") == "server unix:/run/hello/blue.sock max_fails=0;\n"
    assert up.slot_line("127.0.0.1:8001") == "server 127.0.0.1:8001 max_fails=0;"


@pytest.mark.parametrize("address", ["", "a b", "x;", "x#y", "a\nserver b", "{x}", None])
def test_an_address_that_is_not_one_nginx_word_is_refused(address: object) -> None:
    with pytest.raises(up.UpstreamError):
        up.render_slot(address)  # type: ignore[arg-type]


def test_backends_render_as_the_nginx_role_template_did() -> None:
    assert up.render_backends(BACKENDS) == TEMPLATE_RENDERED


def test_backends_marked_down_and_their_settings() -> None:
    text = up.render_backends(BACKENDS[:2], down=["web2"], max_fails=3, fail_timeout=20)
    assert text.splitlines()[-2:] == [
        "server 10.0.0.11:80 max_fails=3 fail_timeout=20s; # backend web1",
        "server web2.internal:80 max_fails=3 fail_timeout=20s down; # backend web2",
    ]


def test_a_removed_backend_has_no_line() -> None:
    assert "web2" not in up.render_backends([BACKENDS[0]])


@pytest.mark.parametrize(
    "backends, down, settings",
    [
        (BACKENDS + [{"name": "web1", "address": "10.0.0.99:80"}], [], {}),
        (BACKENDS, ["web9"], {}),
        ([{"name": "web 1", "address": "10.0.0.1:80"}], [], {}),
        (BACKENDS, [], {"max_fails": -1}),
        (BACKENDS, [], {"fail_timeout": "10"}),
    ],
)
def test_invalid_backends_are_refused(backends: list, down: list, settings: dict) -> None:
    with pytest.raises(up.UpstreamError):
        up.render_backends(backends, down, **settings)


def test_parse_reads_back_what_is_rendered() -> None:
    assert up.parse(None) == {"present": False, "kind": "missing", "servers": [], "backends": []}
    slot = up.parse(up.render_slot("unix:/run/hello/green.sock"))
    assert slot == {"present": True, "kind": "slot", "servers": ["unix:/run/hello/green.sock"], "backends": []}
    lb = up.parse(up.render_backends(BACKENDS, down=["web1"]))
    assert lb["kind"] == "backends"
    assert lb["servers"] == ["10.0.0.11:80", "web2.internal:80", "198.51.100.7:80"]
    assert lb["backends"][0] == {"name": "web1", "address": "10.0.0.11:80", "max_fails": 2, "fail_timeout": 10,
                                 "down": True}
    assert [b["down"] for b in lb["backends"]] == [True, False, False]


@pytest.mark.parametrize("text", ["server 10.0.0.1:80;\n", "server a max_fails=0;\nserver b max_fails=0;\n", "\n"])
def test_parse_calls_anything_else_other(text: str) -> None:
    assert up.parse(text)["kind"] == "other"


def test_mark_changes_only_the_named_lines() -> None:
    text = TEMPLATE_RENDERED + "# a note\n"
    down, missing = up.mark(text, down=["web2", "web9"])
    assert missing == ["web9"]
    assert down == text.replace("10s; # backend web2", "10s down; # backend web2")
    # Marking again changes nothing; the others keep their marks.
    assert up.mark(down, down=["web2"]) == (down, [])
    both, dummy = up.mark(down, down=["web1"])
    assert [b["down"] for b in up.parse(both)["backends"]] == [True, True, False]
    back, dummy = up.mark(both, up=["web1", "web2"])
    assert back == text


def test_mark_matches_whole_names() -> None:
    text = up.render_backends([{"name": "web1", "address": "a:80"}, {"name": "web10", "address": "b:80"}])
    new, dummy = up.mark(text, down=["web1"])
    assert [b["down"] for b in up.parse(new)["backends"]] == [True, False]


def test_mark_refuses_a_name_both_down_and_up() -> None:
    with pytest.raises(up.UpstreamError):
        up.mark(TEMPLATE_RENDERED, down=["web1"], up=["web1"])
