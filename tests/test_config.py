"""subscriptions.yaml validation: every problem reported with file:line: field: message."""

from pathlib import Path

import pytest

from digestbot.config import ConfigError, Env, parse_config

GOOD = """\
database: data/digestbot.db
timezone: UTC
sources:
  - name: arxiv-cs-lg
    type: arxiv_rss
    url: https://rss.arxiv.org/rss/cs.LG
    every: 6h
  - name: hf-daily
    type: hf_daily
  - name: api
    type: arxiv_api
    query: "cat:cs.RO AND abs:imitation"
email:
  from: "Paper digest <digest@example.org>"
defaults:
  schedule: daily 08:00
  max_papers: 25
subscribers:
  - id: alice
    email: alice@example.org
    keywords: [imitation learning, diffusion policy, RLHF, "robot*"]
    exclude: [survey]
    authors: [Sergey Levine]
    categories: [cs.LG, cs.RO]
    schedule: weekly mon 09:00
    timezone: Europe/Berlin
  - id: ml-channel
    slack: "#ml-papers"
    keywords: [large language model, reasoning]
"""


def load(text: str, tmp_path: Path):
    return parse_config(text, tmp_path / "subscriptions.yaml")


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load(text, tmp_path)
    return [str(p) for p in e.value.problems]


def test_design_example_loads(tmp_path):
    config = load(GOOD, tmp_path)
    assert [s.name for s in config.sources] == ["arxiv-cs-lg", "hf-daily", "api"]
    hf = config.source("hf-daily")
    assert hf.url == "https://huggingface.co/api/daily_papers" and hf.every == 6 * 3600
    assert config.source("arxiv-cs-lg").announce == ("new", "cross")
    alice, channel = config.subscribers
    assert alice.profile.keywords == ("imitation learning", "diffusion policy", "RLHF", "robot*")
    assert alice.schedule == "weekly mon 09:00" and alice.timezone == "Europe/Berlin"
    assert channel.slack == "#ml-papers" and channel.schedule == "daily 08:00" and channel.max_papers == 25
    assert config.database == tmp_path / "data" / "digestbot.db"  # relative to the YAML's folder
    assert config.email_from == "Paper digest <digest@example.org>"


def test_every_problem_is_listed_with_its_line(tmp_path):
    text = """\
sources:
  - name: feed
    type: rsss
    url: ftp://example.org/feed
    every: 6x
subscribers:
  - id: alice
    email: alice@
    keywords: ["ro*bot"]
    schedule: weekly xyz 09:00
    timezone: Mars/Olympus
    colour: red
  - id: alice
    email: a2@example.org
"""
    found = problems(text, tmp_path)
    path = tmp_path / "subscriptions.yaml"
    expected = [
        f"{path}:3: sources[0].type: unknown type 'rsss'",
        f"{path}:4: sources[0].url: only http(s) URLs or local file paths are allowed",
        f"{path}:5: sources[0].every: expected a duration",
        f"{path}:8: subscribers[0].email: not an email address: 'alice@'",
        f"{path}:9: subscribers[0].keywords[0]: '*' is only allowed at the end",
        f"{path}:10: subscribers[0].schedule: expected a day name",
        f"{path}:11: subscribers[0].timezone: unknown timezone 'Mars/Olympus'",
        f"{path}:12: subscribers[0].colour: unknown key",
        f"{path}:13: subscribers[1].id: duplicate id 'alice'",
        f"{path}:13: subscribers[1]: empty profile",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in found), (want, found)
    assert len(found) == len(expected)


def test_yaml_syntax_error_names_the_line(tmp_path):
    [problem] = problems("sources:\n  - name: a\n    url: [unclosed\n", tmp_path)
    assert problem.startswith(f"{tmp_path / 'subscriptions.yaml'}:3: yaml:")  # where the '[' opens


def test_duplicate_keys_are_errors(tmp_path):
    found = problems(
        GOOD.replace("    timezone: Europe/Berlin\n", "    timezone: Europe/Berlin\n    timezone: UTC\n"),
        tmp_path,
    )
    assert any(":27: subscribers[0].timezone: duplicate key" in p for p in found), found


def test_unknown_key_suggests_the_right_one(tmp_path):
    found = problems(GOOD.replace("    exclude: [survey]", "    exlcude: [survey]"), tmp_path)
    assert any("did you mean 'exclude'" in p for p in found)


def test_a_lone_surrogate_escape_is_an_error_at_its_line_not_a_digest_that_never_sends(tmp_path):
    # "\ud800" in double quotes is YAML for half a UTF-16 pair: no mail, page or database takes it.
    text = GOOD.replace(
        "    keywords: [large language model, reasoning]", '    keywords: ["large \\ud800model"]'
    )
    found = problems(text, tmp_path)
    assert any("subscribers[1].keywords[0]: holds a lone surrogate" in p for p in found), found
    assert all("\ud800" not in p for p in found)  # the message itself is printable


def test_wrong_types(tmp_path):
    text = GOOD.replace("  max_papers: 25", "  max_papers: lots").replace(
        "    keywords: [large language model, reasoning]", "    keywords: {a: b}"
    )
    found = problems(text, tmp_path)
    assert any("defaults.max_papers: expected a whole number" in p for p in found)
    assert any("subscribers[1].keywords: expected text, got a mapping" in p for p in found)


def test_local_file_source_must_exist(tmp_path):
    (tmp_path / "feed.xml").write_text("<rss/>")
    ok = "sources:\n  - name: f\n    url: feed.xml\nsubscribers: []\n"
    assert load(ok, tmp_path).sources[0].path == tmp_path / "feed.xml"
    [problem] = problems(ok.replace("feed.xml", "missing.xml"), tmp_path)
    assert "file not found" in problem


def test_source_options_checked_against_type(tmp_path):
    text = "sources:\n  - name: f\n    type: hf_daily\n    query: x\n  - name: g\n    type: arxiv_api\n"
    found = problems(text, tmp_path)
    assert any(":4: sources[0].query: only applies to type arxiv_api" in p for p in found)
    assert any(":5: sources[1].query: required for arxiv_api" in p for p in found)


def test_subscriber_needs_exactly_one_destination(tmp_path):
    found = problems("subscribers:\n  - id: a\n    keywords: [x]\n", tmp_path)
    assert any("needs 'email' or 'slack'" in p for p in found)
    found = problems(
        "subscribers:\n  - id: a\n    email: a@b.org\n    slack: '#c'\n    keywords: [x]\n", tmp_path
    )
    assert any("either 'email' or 'slack'" in p for p in found)


def test_impossible_cron_is_refused(tmp_path):
    found = problems(GOOD.replace("weekly mon 09:00", "0 0 31 2 *"), tmp_path)
    assert any("never fires" in p for p in found)


def test_empty_file(tmp_path):
    [problem] = problems("", tmp_path)
    assert ":1: file: is empty" in problem


def test_env_reads_secrets_from_environment():
    env = Env.from_environ({"DIGESTBOT_SMTP_URL": "smtp://u:p@h:587", "DIGESTBOT_BASE_URL": "https://x.org/"})
    assert env.smtp_url == "smtp://u:p@h:587"
    assert env.base_url == "https://x.org"
    assert str(env.outbox) == "outbox"


# --- trending and sources ---------------------------------------------------------------------

TRENDING_SOURCES = """\
sources:
  - name: arxiv-cs-lg
    type: arxiv_rss
    url: https://rss.arxiv.org/rss/cs.LG
  - name: hf-daily
    type: hf_daily
subscribers:
"""


def test_a_profile_with_only_trending_is_valid_and_sources_are_kept(tmp_path):
    config = load(
        TRENDING_SOURCES
        + "  - id: t\n    email: t@example.org\n    trending: 10\n"
        + "  - id: k\n    email: k@example.org\n    trending: 5\n    keywords: [agents]\n"
        + "    sources: [hf-daily, arxiv-cs-lg]\n",
        tmp_path,
    )
    t, k = config.subscribers
    assert (t.profile.trending, t.profile.sources, t.profile.keywords) == (10, (), ())
    assert (k.profile.trending, k.profile.sources, k.profile.keywords) == (
        5,
        ("hf-daily", "arxiv-cs-lg"),
        ("agents",),
    )


def test_trending_and_sources_errors_name_file_line_and_field(tmp_path):
    found = problems(
        TRENDING_SOURCES
        + "  - id: a\n    email: a@example.org\n    trending: 0\n"  # lines 8-10
        + "  - id: b\n    email: b@example.org\n    trending: lots\n"  # 11-13
        + "  - id: c\n    email: c@example.org\n    keywords: [x]\n    sources: [hf-dialy, nowhere]\n"  # 14-17
        + "  - id: d\n    email: d@example.org\n    trending: 3\n    sources: [arxiv-cs-lg]\n"  # 18-21
        + "  - id: e\n    email: e@example.org\n    trending: 3\n    like: [2303.04137]\n",  # 22-25
        tmp_path,
    )
    where = tmp_path / "subscriptions.yaml"
    assert found == [
        f"{where}:10: subscribers[0].trending: expected a number of papers from 1 to 1000, got 0",
        f"{where}:13: subscribers[1].trending: expected a number of papers from 1 to 1000, got 'lots'",
        f"{where}:17: subscribers[2].sources[0]: no source named 'hf-dialy' (did you mean 'hf-daily'?);"
        " sources: arxiv-cs-lg, hf-daily",
        f"{where}:17: subscribers[2].sources[1]: no source named 'nowhere'; sources: arxiv-cs-lg, hf-daily",
        f"{where}:21: subscribers[3].sources: trending ranks papers by their Hugging Face upvotes: list an"
        " hf_daily source in sources",
        f"{where}:24: subscribers[4].trending: cannot be combined with like or library: a trending digest"
        " ranks by upvotes (use keywords, authors or categories to narrow it)",
    ]


def test_trending_without_any_hf_daily_source_is_refused(tmp_path):
    found = problems(
        "sources:\n  - name: feed\n    type: arxiv_rss\n    url: https://rss.arxiv.org/rss/cs.LG\n"
        "subscribers:\n  - id: t\n    email: t@example.org\n    trending: 10\n",
        tmp_path,
    )
    assert found == [
        f"{tmp_path / 'subscriptions.yaml'}:8: subscribers[0].trending: trending ranks papers by their"
        " Hugging Face upvotes: configure an hf_daily source"
    ]


def test_show_ai_summary_is_a_yes_or_no(tmp_path):
    config = load(
        TRENDING_SOURCES
        + "  - id: t\n    email: t@example.org\n    trending: 3\n    show_ai_summary: true\n",
        tmp_path,
    )
    assert config.subscribers[0].show_ai_summary is True
    found = problems(
        TRENDING_SOURCES
        + "  - id: t\n    email: t@example.org\n    trending: 3\n    show_ai_summary: often\n",
        tmp_path,
    )
    assert found == [
        f"{tmp_path / 'subscriptions.yaml'}:11: subscribers[0].show_ai_summary: expected true or false, got 'often'"
    ]


def test_a_subscriber_naming_a_broken_source_gets_no_second_error(tmp_path):
    found = problems(
        "sources:\n  - name: hf-daily\n    type: hf_daily\n    every: often\n"
        "subscribers:\n  - id: t\n    email: t@example.org\n    trending: 3\n    sources: [hf-daily]\n",
        tmp_path,
    )
    [only] = found  # the source's own problem, not "no source named 'hf-daily'" besides
    assert only.startswith(f"{tmp_path / 'subscriptions.yaml'}:4: sources[0].every: ")


def test_digits_that_are_not_ascii_are_errors_with_their_line(tmp_path):
    """`str.isdigit` takes superscripts and circled digits that int() refuses: a problem to
    report, never a crash."""
    found = problems(
        "sources:\n  - name: feed\n    type: arxiv_rss\n    url: https://rss.arxiv.org/rss/cs.LG\n"
        '    every: "\u00b2"\n'  # line 5
        "subscribers:\n  - id: t\n    email: t@example.org\n    keywords: [x]\n"
        '    schedule: "0 \u00b2 * * *"\n'  # line 10
        "  - id: u\n    email: u@example.org\n    keywords: [x]\n"
        '    schedule: "*/\u2460 * * * *"\n',  # line 14
        tmp_path,
    )
    where = tmp_path / "subscriptions.yaml"
    assert [f.split(": ")[0:2] for f in found] == [
        [f"{where}:5", "sources[0].every"],
        [f"{where}:10", "subscribers[0].schedule"],
        [f"{where}:14", "subscribers[1].schedule"],
    ], found
