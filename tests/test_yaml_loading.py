"""subscriptions.yaml is composed by libyaml (PyYAML's C parser) when PyYAML has it, and by
PyYAML's own parser otherwise and for any file with a YAML error. Both must read every file to
the same values, on the same lines, with the same problems."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from digestbot import config

ROOT = Path(__file__).resolve().parent.parent

TEXTS = {
    "repository's subscriptions.yaml": (ROOT / "subscriptions.yaml").read_text(encoding="utf-8"),
    "byte order mark": "\ufeffsubscribers:\n  - id: a\n    keywords: [x]\n",
    "unicode line breaks": "a: one\u2028two\nb: 'x\x85y'\nc: [1, 2]\n# note\u2029\nd: z\n",
    "a tab inside a quoted value": "b: 'tab\there'\nc: \"one\\ttwo\"\n",
    "anchors, aliases, merge keys": (
        "defaults: &d {schedule: daily 08:00, max_papers: 5}\n"
        "subscribers:\n  - <<: *d\n    id: a\n  - <<: [*d]\n    id: b\n    max_papers: 3\n"
    ),
    "YAML 1.1 scalars": (
        "a: 0123\nb: 2024-13-45\nc: yes\nd: ~\ne: 1_000\nf: 0x1F\ng: 1e3\nh: .inf\ni: 12:30\n"
        "j: 2024-03-14\nk: '0123'\nl: !!str 5\n"
    ),
    "block scalars": "a: |\n  one\n  two\nb: >-\n  folded\n  text\n\nc: after\n",
    "an anchor defined twice": "a: &x 1\nb: &x 2\nc: *x\n",
    "an alias to no anchor": "a: *nothing\n",
    "a YAML 1.2 directive": "%YAML 1.2\n---\na: 1\n",
    "duplicate keys": "a: 1\nb: 2\na: 3\nsub:\n  x: 1\n  x: 2\n",
    "lone surrogate escape": 'a: "x\\ud800y"\n',
    "python tag": "a: !!python/object:os.system {}\n",
    "python tag on a scalar": "a: !!python/name:os.system ''\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "mapping values not allowed": "subscribers:\n  - id: a\n    keywords: narwhal: x\n",
    "unclosed flow": "a: [1, 2\nb: 3\n",
    "bad indentation": "a:\n  - x\n - y\n",
    "deep nesting": "a: " + "[" * 3000 + "]" * 3000 + "\n",
    "empty": "",
    "comments only": "# nothing here\n",
}


def load(text: str, libyaml: bool, monkeypatch) -> tuple[object, list]:
    """What `_load_yaml` makes of `text` (as plain values: value, line, raw), and the problems."""
    if not libyaml:
        monkeypatch.setattr(config, "_LIBYAML", None)
    problems: list = []
    value = config._load_yaml(text, lambda *p: problems.append(p))
    monkeypatch.undo()
    return plain(value), problems


def plain(v):
    if v is None:
        return None
    if isinstance(v.value, dict):
        inner = {k: plain(x) for k, x in v.value.items()}
    elif isinstance(v.value, list):
        inner = [plain(x) for x in v.value]
    else:
        inner = v.value
    return (inner, v.line, v.raw)


@pytest.mark.skipif(config._LIBYAML is None, reason="PyYAML without libyaml: only one parser to compare")
@pytest.mark.parametrize("name", TEXTS)
def test_libyaml_reads_a_file_exactly_as_pyyaml_does(name, monkeypatch):
    text = TEXTS[name]

    fast, fast_problems = load(text, True, monkeypatch)
    slow, slow_problems = load(text, False, monkeypatch)

    assert fast == slow
    assert fast_problems == slow_problems


def test_the_repositorys_file_is_composed_by_libyaml_when_pyyaml_has_it():
    """The speed is the point: the fast path is taken (a guard against it silently falling back)."""
    node = config._fast_node(TEXTS["repository's subscriptions.yaml"])
    assert isinstance(node, yaml.MappingNode) == (config._LIBYAML is not None)


def test_a_file_with_a_yaml_error_gets_pyyamls_message_and_line(tmp_path):
    path = tmp_path / "subscriptions.yaml"
    path.write_text(TEXTS["mapping values not allowed"], encoding="utf-8")

    with pytest.raises(config.ConfigError) as e:
        config.load_config(path)

    assert f"{path}:3: yaml: mapping values are not allowed here" in str(e.value)


TABS = {  # as separation space: after `key:`, before a comment, inside a plain value
    "a:\t1\nb: [2]\n": {"a": (1, 1, "1"), "b": ([(2, 2, "2")], 2, None)},
    "a: 1\t# a comment\nb:\n  - 2\t# another\n": {"a": (1, 1, "1"), "b": ([(2, 3, "2")], 2, None)},
    "a: one\ttwo\n": {"a": ("one\ttwo", 1, "one\ttwo")},
}


@pytest.mark.skipif(config._LIBYAML is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize("text", TABS)
def test_a_tab_as_separation_space_is_read_as_yaml_allows(text, monkeypatch):
    """The one difference found: YAML allows a tab as white space between the parts of a line;
    libyaml reads it, PyYAML's own parser refuses the file ("found character '\\t' that cannot
    start any token"). Reading it is what a user who typed a tab expects."""
    fast, fast_problems = load(text, True, monkeypatch)
    slow, slow_problems = load(text, False, monkeypatch)

    assert fast == (TABS[text], 1, None) and fast_problems == []
    assert slow is None and len(slow_problems) == 1
