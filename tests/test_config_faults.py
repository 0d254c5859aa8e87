"""Faults found in subscriber schedules, timezones and the YAML configuration: each test drives
the real CLI (or the worker on a fake clock) on real files and checks what arrived, the exit
code and the message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SOURCES, FeedPaper, digestbot, write_feed
from test_daemon import bot, outbox_mails, subscriber_yaml, topic_paper, utc  # noqa: F401  (bot: a fixture)

from digestbot.cli import cli
from digestbot.config import SOURCE_TYPES, load_config
from digestbot.schedule import parse_duration
from digestbot.store import Store

ROBOTS = FeedPaper("2403.00001", "Robot learning at scale", "About robots.")
NARWHALS = FeedPaper("2403.00002", "Narwhal songs", "Narwhals sing.")


# --- YAML merge keys: an explicit key overrides a merged one ---------------------------------
# Fault: `<<: *alice` (YAML's merge key: take alice's settings, then change some) is how a YAML
# file shares settings between entries; PyYAML flattens the merge into the mapping, and the
# reader took alice's `id` and `email` followed by bob's own for "duplicate key": exit 2 on a
# valid file. An explicit key overrides a merged one; only two explicit keys are duplicates.


# alice, and bob made of her by a merge key with his own id and address
ALICE_AND_BOB = """
- &alice
  id: alice
  email: alice@example.org
  keywords: [robot]
- <<: *alice
  id: bob
  email: bob@example.org
"""


def test_a_merged_subscriber_overrides_what_it_merges_and_gets_its_own_digest(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS, NARWHALS])
    workdir.write_config(
        SOURCES,
        ALICE_AND_BOB + "- <<: *alice\n  id: carol\n  email: carol@example.org\n  keywords: [narwhal]\n",
    )
    assert "OK (1 source(s), 3 subscriber(s))" in digestbot(workdir, "check").output

    digestbot(workdir, "run", "--once")
    got = {m.to: m.papers for m in outbox_mails(workdir.outbox)}
    assert got == {
        "alice@example.org": {ROBOTS.aid},
        "bob@example.org": {ROBOTS.aid},
        "carol@example.org": {NARWHALS.aid},
    }


def test_two_explicit_keys_beside_a_merge_are_still_a_duplicate(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES,
        ALICE_AND_BOB + "  email: bob2@example.org\n",
    )
    result = digestbot(workdir, "check", expect=2)
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "bob2@" in text)
    assert f"subscriptions.yaml:{line}: subscribers[1].email: duplicate key" in result.output
    assert "subscribers[1].id" not in result.output


# --- a last digest recorded ahead of the clock ----------------------------------------------
# Fault: a subscriber is due at the first scheduled time after their last digest. A digest
# recorded while the clock ran ahead (a dead RTC battery, a VM restored with a wrong clock, an
# operator's typo: a year ahead), or before the clock was set back two days, held the next one
# back until the clock caught up again: no digest for a year. The worker already treated a
# fetch recorded ahead of the clock as of unknown age; the due time did not. Now a last digest
# whose next time lies beyond the second scheduled time from now is due at the first one (a
# jump back of less than a period still sends no second digest that day).


@dataclass(frozen=True)
class Jump:
    sent: str  # the clock when the first digest went out (a new subscriber: at once)
    set_to: str  # the clock, set back
    digests: list[str]  # every digest from then on for three days, by the clock


JUMPS = {
    # the clock ran a year ahead and is set right an hour after the digest
    "a-year-ahead-set-right": Jump(
        "2027-03-01 08:00", "2026-03-01 09:00", ["2026-03-02 08:00", "2026-03-03 08:00", "2026-03-04 08:00"]
    ),
    # the clock set back two days after the digest: daily from the clock's next 08:00
    "two-days-back": Jump(
        "2026-03-03 08:00", "2026-03-01 09:00", ["2026-03-02 08:00", "2026-03-03 08:00", "2026-03-04 08:00"]
    ),
    # set back an hour, before 08:00 again: that 08:00 digest has gone; tomorrow's is next
    "an-hour-back": Jump("2026-03-01 08:00", "2026-03-01 07:30", ["2026-03-02 08:00", "2026-03-03 08:00"]),
}


@pytest.mark.parametrize("jump", JUMPS.values(), ids=JUMPS.keys())
def test_a_digest_recorded_ahead_of_a_clock_set_back_holds_the_next_back_one_day_at_most(
    workdir,
    backend,
    bot,  # noqa: F811
    jump,
):
    b = bot(subscriber_yaml("alice", "quokka", schedule="daily 08:00"), jump.sent)
    b.add(topic_paper(1, "quokka"))
    assert [o.status for o in b.run()] == ["sent"]

    b.clock.set(jump.set_to)
    end, sent, n = b.clock() + timedelta(days=3), [], 1
    while b.clock() < end:
        if b.clock().minute == 0:  # a paper an hour: every digest has something new
            n += 1
            b.add(topic_paper(n, "quokka"))
        sent += [b.clock()] * len([o for o in b.run() if o.status == "sent"])
        b.clock.advance(minutes=30)

    assert sent == [utc(t) for t in jump.digests]
    assert len(b.mails()) == 1 + len(jump.digests)


# --- YAML syntax errors: the line to fix, and how ---------------------------------------------
# Fault: a quote left open was reported at the end of the file (one line past its last line,
# "found unexpected end of stream"), a list left open at the line after it; neither message
# said what to do, nor did a tab's ("found character '\t' that cannot start any token").

GOOD_START = SOURCES.strip() + "\n"
SYNTAX = {
    "an-open-quote": (
        '- id: a\n  email: a@example.org\n  keywords: ["robots, diffusion]\n- id: b\n  email: b@example.org\n',
        "diffusion]",
        "a quoted value is not closed before the end of the file",
        "add the closing quote",
    ),
    "an-open-list": (
        "- id: a\n  email: a@example.org\n  keywords: [robots, diffusion\n  schedule: daily 08:00\n",
        "diffusion",
        "the list '[' opened here is not closed before line",
        "close it with ']'",
    ),
    "a-tab": (
        "- id: a\n  email: a@example.org\n\tkeywords: [robots]\n",
        "\tkeywords",
        "found character '\\t' that cannot start any token",
        "replace the tab with spaces",
    ),
    "an-at-sign": (
        "- id: a\n  email: a@example.org\n  keywords: [robots]\n  schedule: @daily\n",
        "@daily",
        "found character '@'",
        "must be quoted",
    ),
}


@pytest.mark.parametrize("case", SYNTAX.values(), ids=SYNTAX.keys())
def test_a_yaml_syntax_error_names_the_line_to_fix_and_how(workdir, case):
    subscribers, on_line, problem, fix = case
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(GOOD_START, subscribers)
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if on_line in text)

    result = digestbot(workdir, "check", expect=2)
    [first, summary] = result.output.splitlines()
    assert first.startswith(f"{workdir.config}:{line}: yaml: "), (line, first)
    assert problem in first and fix in first, first
    assert summary == f"1 problem(s) in {workdir.config}; nothing was changed."
    assert "Traceback" not in result.output


# --- a source's every: without an upper bound ---------------------------------------------------
# Fault: `every: 99999999999d` (a typo, or "never") passed `check`, and `digestbot run` died
# with an OverflowError traceback when it scheduled the fetch (APScheduler's interval, or the
# first fetch time past the year 9999). A feed lists only its latest items: fetched less than
# once a month, it loses some anyway; `every:` is at most 30d.


@pytest.mark.parametrize("every", ["99999999999d", "31d", "50000h"])
def test_a_source_fetched_less_than_monthly_is_a_problem_with_its_line_not_a_traceback(workdir, every):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES.strip() + f"\n  every: {every}\n", "- id: a\n  email: a@example.org\n  keywords: [robot]\n"
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "every:" in text)
    for command in ("check", "run"):
        result = digestbot(workdir, command, expect=2)
        assert f"{workdir.config}:{line}: sources[0].every: at most 30d" in result.output, result.output
    assert not workdir.outbox.exists()


@pytest.mark.parametrize("setting", ["every: 30d", "timeout: 30s"])
def test_a_source_fetched_monthly_is_fine(workdir, setting):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES.strip() + f"\n  {setting}\n", "- id: a\n  email: a@example.org\n  keywords: [robot]\n"
    )
    assert "OK (1 source(s), 1 subscriber(s))" in digestbot(workdir, "check").output


# --- a timezone spelt not quite as the tz database spells it --------------------------------
# Fault: `timezone: utc` (the default, in lower case), `Berlin` or `America/New York` got
# "unknown timezone 'utc' (use an IANA name such as Europe/Berlin)": no word that UTC is one,
# nor which name was meant. Now the message names it; an abbreviation gets no guess (the
# zone nearest in spelling to GMT+1, Etc/GMT+1, is UTC-1).

ZONES = {
    "utc": "(did you mean 'UTC'?)",
    "europe/berlin": "(did you mean 'Europe/Berlin'?)",
    "Berlin": "(did you mean 'Europe/Berlin'?)",
    "America/New York": "(did you mean 'America/New_York'?)",
    "Asia/Kolkatta": "(did you mean 'Asia/Kolkata'?)",
    "GMT+1": "(use an IANA name such as Europe/Berlin)",
    "Eastern": "(use an IANA name such as Europe/Berlin)",  # Canada's or the US's
}


@pytest.mark.parametrize(("zone", "said"), ZONES.items(), ids=ZONES.keys())
def test_a_mistyped_timezone_names_the_zone_it_means(workdir, zone, said):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES, f"- id: a\n  email: a@example.org\n  keywords: [robot]\n  timezone: {zone}\n"
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "timezone: " + zone in text)
    result = digestbot(workdir, "check", expect=2)
    assert (
        f"{workdir.config}:{line}: subscribers[0].timezone: unknown timezone '{zone}' {said}" in result.output
    )


# --- a key named as another tool names it ------------------------------------------------------
# Fault: `path: feed.xml` (rss2email's and many tools' word for a local feed) or `limit: 10`
# got "unknown key" and nothing more: no spelling of those is close to `url` or `max_papers`.

OTHER_NAMES = {
    "sources[0].path": ("  path: feed.xml\n", "", "url"),
    "subscribers[0].limit": ("", "  limit: 10\n", "max_papers"),
    "subscribers[0].cron": ("", "  cron: 0 8 * * *\n", "schedule"),
    "subscribers[0].zotero": ("", "  zotero: refs.bib\n", "library"),
    "subscribers[0].topics": ("", "  topics: [robot]\n", "keywords"),
}


@pytest.mark.parametrize(("field", "case"), OTHER_NAMES.items(), ids=OTHER_NAMES.keys())
def test_a_key_as_another_tool_names_it_gets_the_name_digestbot_uses(workdir, field, case):
    source, sub, meant = case
    workdir.write_config(
        SOURCES.strip() + "\n" + source, "- id: a\n  email: a@example.org\n  keywords: [robot]\n" + sub
    )
    line = next(
        n
        for n, text in enumerate(workdir.config.read_text().splitlines(), 1)
        if (source or sub).strip() in text
    )
    result = digestbot(workdir, "check", expect=2)
    assert f"{workdir.config}:{line}: {field}: unknown key (did you mean '{meant}'?)" in result.output


# --- a relative path that is not there ------------------------------------------------------------
# Fault: `library: refs.bib` missing said "cannot read conf/refs.bib: No such file or directory",
# a source's `url: feed.xml` "file not found: conf/feed.xml": not that a relative path is read
# from the YAML's folder, whatever folder digestbot runs in (the usual mistake, with --config).


def test_a_missing_relative_path_says_it_is_read_from_the_yamls_folder(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS])  # beside where digestbot runs, not the YAML
    (workdir.path / "refs.bib").write_text("2403.00001\n")
    conf = workdir.path / "conf"
    conf.mkdir()
    (conf / "subscriptions.yaml").write_text(
        "sources:\n  - name: feed\n    type: arxiv_rss\n    url: feed.xml\n"
        "subscribers:\n  - id: a\n    email: a@example.org\n    library: refs.bib\n"
    )
    result = CliRunner().invoke(cli, ["--config", "conf/subscriptions.yaml", "check"])
    note = f"(a relative path is read from the YAML's folder, {conf})"
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[:2] == [
        f"conf/subscriptions.yaml:4: sources[0].url: file not found: conf/feed.xml {note}",
        f"conf/subscriptions.yaml:8: subscribers[0].library: file not found: conf/refs.bib {note}",
    ]


# --- a library whose BibTeX defines a @string twice -------------------------------------------
# Fault: two bibliographies merged into one .bib each define `@string{jmlr = ...}`; bibtexparser
# refuses the second as a duplicate block, and the library reader took every duplicate block
# for an entry: `digestbot check` (and every command) died with "AttributeError: 'String'
# object has no attribute 'fields'". A macro defined twice is no paper, and no problem.


def test_a_library_defining_a_string_macro_twice_is_read(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    (workdir.path / "refs.bib").write_text(
        '@string{jmlr = "Journal of Machine Learning Research"}\n'
        "@article{a, title={Robot learning at scale}, journal=jmlr, eprint={2403.00001},"
        " archivePrefix={arXiv}}\n"
        '@string{jmlr = "JMLR"}\n'
    )
    workdir.write_config(SOURCES, "- id: a\n  email: a@example.org\n  library: refs.bib\n")
    assert "OK (1 source(s), 1 subscriber(s))" in digestbot(workdir, "check").output
    [reader] = load_config(workdir.config).subscribers
    assert reader.profile.likes == ("2403.00001",)


# --- a path the file system refuses to look at ------------------------------------------------
# Fault: a source's `url:` or `templates:` path the file system cannot even look up (a name
# over 255 bytes: ENAMETOOLONG; or, for a user, a folder they may not enter: EACCES) made
# `check` and every command die with an OSError traceback: Path.is_file() raises for those.


@pytest.mark.parametrize("key", ["url", "templates"])
def test_a_path_the_file_system_refuses_is_a_problem_with_its_line(workdir, key):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    long = "a" * 300
    sources = SOURCES.replace("url: feed.xml", f"url: {long}.xml") if key == "url" else SOURCES
    workdir.write_config(
        sources,
        "- id: a\n  email: a@example.org\n  keywords: [robot]\n",
        extra_yaml=f"templates: {long}" if key == "templates" else "",
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if f"{key}: {long}" in text)
    result = digestbot(workdir, "check", expect=2)
    field = "sources[0].url" if key == "url" else "templates"
    assert f"{workdir.config}:{line}: {field}: cannot look at {workdir.path / long}" in result.output
    assert "File name too long" in result.output


# --- an address written as a mailto: link -------------------------------------------------------
# Fault: `unsubscribe_mailto: mailto:admin@example.org` (the key says mailto) passed, and every
# digest's List-Unsubscribe header said <mailto:mailto:admin@example.org?...>: an unsubscribe
# no mail client can use. `email: mailto:alice@example.org` passed too, an address no server
# takes (retried forever). A ':' (or ',', ';', '(', ')', '\\' out of quotes) is refused, and a
# mailto: in it is named.

MAILTO = {
    "unsubscribe_mailto": ("email.unsubscribe_mailto", "unsubscribe_mailto: mailto:admin@example.org"),
    "from": ("email.from", 'from: "Digest <mailto:digest@example.org>"'),
    "subscriber": ("subscribers[0].email", None),
}


@pytest.mark.parametrize("where", MAILTO.keys())
def test_an_address_written_as_a_mailto_link_is_a_problem_that_says_so(workdir, where):
    field, email_yaml = MAILTO[where]
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    address = "mailto:alice@example.org" if where == "subscriber" else "a@example.org"
    kwargs = {"email_from": "Digest <mailto:digest@example.org>"} if where == "from" else {}
    workdir.write_config(
        SOURCES,
        f"- id: a\n  email: {address}\n  keywords: [robot]\n",
        email_yaml=email_yaml if where == "unsubscribe_mailto" else "",
        **kwargs,
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "mailto:" in text)
    result = digestbot(workdir, "check", expect=2)
    assert f"{workdir.config}:{line}: {field}: not an email address" in result.output, result.output
    assert "write the address without 'mailto:'" in result.output
    digestbot(workdir, "run", "--once", expect=2)
    assert not workdir.outbox.exists()


# --- a list written without its brackets ------------------------------------------------------
# Fault: `keywords: imitation learning, diffusion policy` (a list as one writes it in prose) is
# one YAML text, so it was one keyword, the phrase "imitation learning, diffusion policy",
# which no paper holds: `check` said OK and the reader never got a digest. The same for
# `exclude: survey, review` (nothing excluded) and `categories: cs.LG, cs.RO`. A comma in such
# a text is a problem saying how to write the list (or, for one entry with a comma, to quote
# it in one).


@pytest.mark.parametrize(
    ("key", "written", "listed"),
    [
        ("keywords", "imitation learning, diffusion policy", "[imitation learning, diffusion policy]"),
        ("exclude", "survey, review", "[survey, review]"),
        ("authors", "Sergey Levine, Chelsea Finn", "[Sergey Levine, Chelsea Finn]"),
        ("categories", "cs.LG, cs.RO", "[cs.LG, cs.RO]"),
    ],
)
def test_a_list_written_without_brackets_is_a_problem_that_shows_the_list(workdir, key, written, listed):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES, f"- id: a\n  email: a@example.org\n  keywords: [robot]\n  {key}: {written}\n"
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if written in text)
    result = digestbot(workdir, "check", expect=2)
    assert f"{workdir.config}:{line}: subscribers[0].{key}: " in result.output, result.output
    assert f"write the list in brackets: {key}: {listed}" in result.output


def test_one_entry_with_a_comma_in_a_list_is_fine(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES, "- id: a\n  email: a@example.org\n  keywords: [robot]\n  authors: ['Levine, Sergey']\n"
    )
    digestbot(workdir, "check")
    [reader] = load_config(workdir.config).subscribers
    assert reader.profile.authors == ("Levine, Sergey",)


# --- a whole number written in quotes ------------------------------------------------------------
# Fault: `max_papers: "10"` said "expected a whole number from 1 to 1000, got '10'": ten looks
# like a whole number, and nothing said the quotes make it text (relevance_floor said so).


@pytest.mark.parametrize(
    ("key", "where"),
    [("max_papers", "subscribers[0].max_papers"), ("trending", "subscribers[0].trending")],
)
def test_a_quoted_whole_number_says_the_quotes_make_it_text(workdir, key, where):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    hf = "- name: hf\n  type: hf_daily\n  url: hf.json\n"
    (workdir.path / "hf.json").write_text("[]")
    workdir.write_config(
        SOURCES + hf, f"- id: a\n  email: a@example.org\n  keywords: [robot]\n  {key}: '10'\n"
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if f"{key}: '10'" in text)
    result = digestbot(workdir, "check", expect=2)
    assert f"{workdir.config}:{line}: {where}: " in result.output, result.output
    assert "got '10' (that is text: write it as 10, unquoted)" in result.output


# --- a keyword that is excluded too ----------------------------------------------------------------
# Fault: `keywords: [diffusion policy]` with `exclude: [Diffusion Policy]` was accepted, and the
# exclusion vetoed every paper the keyword matched: the keyword could never bring a paper, and
# nothing said why the digest stayed empty. Slack's /digest now lets subscribing undo an
# exclusion and excluding drop the keyword; the YAML and the web form say which entry to remove.


def test_a_keyword_excluded_too_is_a_problem_naming_the_exclusion(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES,
        "- id: a\n  email: a@example.org\n  keywords: [robot, diffusion policy]\n"
        "  exclude: [survey, Diffusion-Policy]\n",
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "exclude:" in text)
    result = digestbot(workdir, "check", expect=2)
    assert f"{workdir.config}:{line}: subscribers[0].exclude[1]: " in result.output, result.output
    assert "'Diffusion-Policy' is also a keyword (keywords[1])" in result.output


# --- a YAML file that holds nothing ----------------------------------------------------------------
# Fault: an empty file is refused ("is empty: expected sources and subscribers"), but one that is
# only `~` (YAML's null, as a config template rendered with nothing writes it) or `{}` was
# "OK (0 source(s), 0 subscriber(s))", and `sync` (every command does it first) deactivated
# every subscriber of the YAML before. They are an empty file's problem.


@pytest.mark.parametrize("nothing", ["~", "null", "{}", "--- ~\n# nothing here\n", "{}  # all in web:\n"])
def test_a_yaml_file_that_holds_nothing_is_refused_as_an_empty_one_is(workdir, nothing):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(SOURCES, subscriber_yaml("alice", "robot"))
    digestbot(workdir, "sync")
    workdir.config.write_text(nothing, encoding="utf-8")
    for command in ("check", "sync"):
        out = digestbot(workdir, command, expect=2).output
        assert f"{workdir.config}:1: file: is empty: expected sources and subscribers" in out, out
    with Store(workdir.db) as store:
        assert [s.subscriber.id for s in store.subscribers()] == ["alice"]


# --- an author written "Last, First" ---------------------------------------------------------------
# Fault: `authors: ["Lovelace, Ada"]`, as BibTeX and reference managers write names (and as
# `check` itself suggests for a list given without brackets), matched no paper: papers list
# "Ada Lovelace", and a name was compared as written, word order included. Nothing said why.


@pytest.mark.parametrize("written", ['"Lovelace, Ada"', '"lovelace ,  ada"'])
def test_an_author_written_last_name_first_finds_their_papers(workdir, written):
    write_feed(workdir.path / "feed.xml", [ROBOTS, NARWHALS])  # both by Ada Lovelace, Alan Turing
    workdir.write_config(
        SOURCES, f"- id: a\n  email: a@example.org\n  authors: [{written}, 'Turing, Jr., Alan']\n"
    )
    assert "a: sent 2 paper(s)" in digestbot(workdir, "run", "--once").output


# --- a source's timeout: as a bare number ----------------------------------------------------
# Fault: `timeout: 30` (a fetch may take 30 seconds, as the README's `60s` default and every
# other timeout digestbot has, in seconds, suggest) was read as 30 minutes, the unit a bare
# `every:` has, and refused as "at most 10m"; `timeout: 5` passed as 5 minutes, so a stalled feed
# held the fetch 60 times longer than written. A timeout without its unit is a problem now, with
# the two ways to write it.


@pytest.mark.parametrize("written", ["5", "30", "'45'"])
def test_a_source_timeout_without_a_unit_is_a_problem_naming_both_readings(workdir, written):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES.strip() + f"\n  timeout: {written}\n",
        "- id: a\n  email: a@example.org\n  keywords: [robot]\n",
    )
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "timeout:" in text)
    number = written.strip("'")
    for command in (["check"], ["run", "--once"]):
        result = digestbot(workdir, *command, expect=2)
        assert (
            f"{workdir.config}:{line}: sources[0].timeout: give a unit: {number}s or {number}m"
            in result.output
        )
    assert not workdir.outbox.exists()


# --- the README's `every:` defaults ---------------------------------------------------------
# Fault: the README's configuration said `every:` defaults to 6h; an arxiv_api source without
# one was fetched every 12h (DEFAULT_EVERY), which no page said. The README now says 12h for
# that type, and this test reads both figures from it and holds the code to them.


def test_every_source_types_default_interval_is_the_one_the_readme_states(workdir):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    default = re.search(r"# how often `run` fetches it \(.*\); default (\w+)\n", readme).group(1)
    api = re.search(r"type: arxiv_api +# every: defaults to (\w+) for this type", readme).group(1)
    assert f"`every:` (default {api})" in readme  # the Sources table says the same
    said = {kind: parse_duration(api if kind == "arxiv_api" else default) for kind in SOURCE_TYPES}
    sources = "".join(
        f"- name: s-{kind}\n  type: {kind}\n  url: feed.xml\n"
        + ("  query: cat:cs.LG\n" if kind == "arxiv_api" else "")
        for kind in SOURCE_TYPES
    )
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(sources, "- id: a\n  email: a@example.org\n  keywords: [robot]\n")
    assert {s.type: s.every for s in load_config(workdir.config).sources} == said


@pytest.mark.parametrize(("zone", "meant"), [("EST", "America/New_York"), ("MST", "America/Denver")])
def test_a_zone_abbreviation_with_no_summer_time_is_refused_naming_the_regions_zone(tmp_path, zone, meant):
    # The tz database keeps EST and MST as zones of one offset all year: a reader in New York
    # who wrote `timezone: EST` got their digest an hour late from March to November.
    (tmp_path / "feed.xml").write_text("<rss/>", encoding="utf-8")
    config = tmp_path / "subscriptions.yaml"
    config.write_text(
        "sources:\n  - name: feed\n    type: rss\n    url: feed.xml\nsubscribers:\n"
        f"  - id: ana\n    email: ana@example.org\n    keywords: [narwhal]\n    timezone: {zone}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(tmp_path / "d.db"), "check"])
    assert result.exit_code == 2, result.output
    assert re.search(
        rf"subscriptions\.yaml:9: subscribers\[0\]\.timezone: .*no summer time: use '{meant}'", result.output
    )
