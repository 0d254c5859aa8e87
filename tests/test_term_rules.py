"""One rule for a keyword or exclusion, wherever it is typed: the YAML, `/digest` in Slack and
the web form refuse the same terms (`matching.term_problem`), say the same reason, and accept
the same terms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digestbot.config import Config, ConfigError, Env, load_config
from digestbot.matching import MAX_TERM_CHARS, term_problem
from digestbot.slack_commands import CommandContext, CommandHandler
from digestbot.store import Store
from digestbot.text import ELLIPSIS, single_spaced
from digestbot.web_forms import read_profile

REFUSED = {
    "too long": "a" * (MAX_TERM_CHARS + 1),
    "misplaced star": "rob*ot",
    "only a star": "*",
    "no letters": "!!!",
    "right-to-left override": "diff\u202eusion",
    "zero-width space": "diff\u200busion",
    "bell": "diff\x07usion",
}
ACCEPTED = {
    "a tab inside": "diffusion\tpolicy",
    "a line separator inside": "diffusion\u2028policy",
    "prefix": "robot*",
    "phrase": "diffusion policy",
    "longest": "b" * MAX_TERM_CHARS,
    "persian with a zero-width non-joiner": "یادگیری\u200cماشین",
    "accents": "Schrödinger",
}


def yaml_problem(tmp_path: Path, key: str, term: str) -> str | None:
    config = tmp_path / "subscriptions.yaml"
    config.write_text(
        "subscribers:\n"
        "- id: alice\n"
        "  email: alice@example.org\n"
        f"  keywords: [{'quantum computing' if key == 'exclude' else json.dumps(term)}]\n"
        + (f"  exclude: [{json.dumps(term)}]\n" if key == "exclude" else ""),
        encoding="utf-8",
    )
    try:
        load_config(config)
    except ConfigError as e:
        return str(e)
    return None


def slack_reply(tmp_path: Path, key: str, term: str) -> tuple[str, tuple[str, ...]]:
    store = Store(tmp_path / "slack.db")
    try:
        config = Config(path=tmp_path / "x.yaml")
        handler, who = CommandHandler(store, config, Env()), CommandContext(user_id="U0TERMS")
        if key == "exclude":
            handler.handle(who, "subscribe quantum computing")
        reply = handler.handle(who, f"{'subscribe' if key == 'keywords' else 'exclude'} {term}").text
        state = store.subscriber("slack:U0TERMS")
        return reply, getattr(state.subscriber.profile, key) if state else ()
    finally:
        store.close()


def web_errors(key: str, term: str) -> dict[str, str]:
    form = {
        "email": "a@example.org",
        "keywords": term if key == "keywords" else "quantum computing",
        "exclude": term if key == "exclude" else "",
        "frequency": "daily",
        "time": "08:00",
    }
    return read_profile(form, Config(path=Path("x.yaml")), "web:1").errors


@pytest.mark.parametrize("key", ["keywords", "exclude"])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_every_surface_refuses_the_same_term_for_the_same_reason(tmp_path, key, case):
    term = REFUSED[case]
    reason = term_problem(term)
    assert reason is not None

    assert reason in (yaml_problem(tmp_path, key, term) or "")
    reply, stored = slack_reply(tmp_path, key, term)
    assert reason in reply.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert term not in stored
    assert reason in web_errors(key, term).get(key, "")


@pytest.mark.parametrize("key", ["keywords", "exclude"])
@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_every_surface_accepts_the_same_term(tmp_path, key, case):
    term = ACCEPTED[case]
    kept = single_spaced(term)  # white space inside is one space, as matching reads it
    assert term_problem(kept) is None

    assert yaml_problem(tmp_path, key, term) is None
    _, stored = slack_reply(tmp_path, key, term)
    assert kept in stored
    assert key not in web_errors(key, term)


def test_a_refused_slack_term_is_quoted_on_one_line_and_shortened():
    """The reply quotes the term it refuses, without its control characters and cut to 40."""
    from digestbot.slack_commands import CommandError, check_terms

    with pytest.raises(CommandError) as refused:
        check_terms(["ok", "x" * 60 + "\x07y"])
    message = str(refused.value)
    assert "\x07" not in message
    assert "`" + "x" * 40 + ELLIPSIS + "`" in message
    assert "U+0007" in message


# Fault: the web form and /digest each kept their own idea of "the same keyword" (the form
# folded case and accents, /digest only case and only against what the digest had), so
# `self-supervised, self supervised` or `narwhal, Narwhal` typed in one list were kept twice by
# /digest, and spelling variants the matcher takes for one term by both.
# (beside the keyword `quantum computing`: an exclusion of `robot*` would veto a keyword `robots`)
SAME_TERM = "narwhal, Narwhal, Narwhäl, self-supervised, self supervised, robot*, Robot*"


@pytest.mark.parametrize("key", ["keywords", "exclude"])
def test_every_surface_keeps_one_of_the_terms_the_matcher_takes_for_one(tmp_path, key):
    kept = ("narwhal", "self-supervised", "robot*")

    _, stored = slack_reply(tmp_path, key, SAME_TERM)
    assert stored == kept
    form = {"email": "a@example.org", "keywords": "quantum computing", "frequency": "daily", "time": "08:00"}
    profile = read_profile({**form, key: SAME_TERM}, Config(path=Path("x.yaml")), "web:1").subscriber.profile
    assert getattr(profile, key) == kept
