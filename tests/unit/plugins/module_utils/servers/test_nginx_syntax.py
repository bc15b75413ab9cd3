# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one nginx tokenizer and its two error policies: reading collects and goes on, editing refuses."""

from __future__ import annotations

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import edit, syntax
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers.nginx import reader as nginx

CONFIG = 'http {\n  server { # main\n    listen 443 ssl;\n    ssl_stapling "on";\n  }\n}\n'


def test_discovery_and_the_editor_share_the_tokenizer():
    assert nginx.parse is syntax.parse
    assert nginx.Directive is syntax.Directive is edit.Statement


def test_both_policies_read_the_same_tree_with_offsets():
    errors = []
    read = syntax.parse(CONFIG, "n.conf", errors)
    strict = syntax.parse_strict(CONFIG, "n.conf")
    assert errors == []
    assert read == strict
    server = read[0].block[0]
    assert (server.name, server.line, server.close_line) == ("server", 2, 5)
    assert CONFIG[server.start : server.end] == "server {"
    stapling = server.block[1]
    assert (stapling.args, stapling.where) == (["on"], "n.conf:4")
    assert CONFIG[stapling.start : stapling.end] == 'ssl_stapling "on";'


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a 1;\n}\n", 'unexpected "}"', 2),
        ("a 1\n", 'unexpected end of file, expecting ";" or "}"', 2),
        ('a "open;\n', "unterminated quoted string", 1),
        ("; a 1;", 'unexpected ";"', 1),
        ("server {\n a 1;\n", 'unexpected end of file, expecting "}" to close "server"', 1),
        ("server {\n a 1\n}\n", 'unexpected "}" (a directive before it lacks its ";")', 3),
    ],
)
def test_reading_collects_each_problem_and_editing_refuses_it(text, message, line):
    errors = []
    syntax.parse(text, "b.conf", errors)
    assert f"b.conf:{line}: {message}." in errors
    with pytest.raises(syntax.NginxSyntaxError) as raised:
        syntax.parse_strict(text, "b.conf")
    assert (raised.value.message, raised.value.line) == (message, line)
    with pytest.raises(edit.EditError, match=f"b.conf:{line}: .*fix the file"):
        edit.tokenize(text, "b.conf")


def test_reading_goes_on_after_a_problem():
    errors = []
    tree = syntax.parse("; a 1;\nb 2;\n", "g.conf", errors)
    assert [directive.name for directive in tree] == ["a", "b"]
    assert len(errors) == 1


def test_lua_blocks_are_skipped_when_reading_and_refused_when_editing():
    text = 'content_by_lua_block { ngx.say("}") }\nserver { listen 443; }\n'
    errors = []
    tree = syntax.parse(text, "l.conf", errors)
    assert errors == [] and [directive.name for directive in tree] == ["content_by_lua_block", "server"]
    with pytest.raises(syntax.NginxSyntaxError, match="content_by_lua_block"):
        syntax.parse_strict(text, "l.conf")


def test_a_word_glued_to_a_quote_is_noted_when_reading_only():
    text = 'a "x"y;\n'
    errors = []
    syntax.parse(text, "q.conf", errors)
    assert errors == ["q.conf:1: unexpected character after a quoted string."]
    assert [d.args for d in syntax.parse_strict(text, "q.conf")] == [["x", "y"]]


def test_the_budget_applies_to_reading():
    errors = []
    tree = syntax.parse("a 1;\n" * 20, "big.conf", errors, syntax.Budget(5))
    assert len(tree) == 5 and len(errors) == 1
    assert len(syntax.parse_strict("a 1;\n" * 20, "big.conf")) == 20
