"""Faults found by using digestbot as a user would, with the wrong input: each test drives the
real CLI (click's runner, or the `python -m digestbot` entry point) on real files and checks
the exit code, the message and that nothing was changed or lost."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import RecordingHandler, free_port, serving
from helpers import SOURCES, FeedPaper, digestbot, http_server, subscriber, write_feed

from digestbot.cli import cli
from digestbot.config import load_config
from digestbot.models import Paper, Profile, Subscriber
from digestbot.render import Renderer, sample_digest
from digestbot.store import DigestItem, Store, now_utc

ROOT = Path(__file__).resolve().parent.parent


def run_cli(workdir, *args: str) -> tuple[int, str, str]:
    """The CLI through click's runner: (exit code, stdout, stderr); a Python exception that
    escaped it (a traceback a user would see) fails the test with that traceback."""
    result = CliRunner().invoke(cli, ["--config", str(workdir.config), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def line_of(workdir, text: str) -> int:
    """The line of the config that holds `text` (the first)."""
    lines = workdir.config.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def one_subscriber(workdir, lines: str) -> Path:
    """A config with the local feed and one subscriber `a`, given as its YAML lines."""
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00001", "Robot learning", "About robots.")])
    workdir.write_config(SOURCES, "- id: a\n  email: a@example.org\n" + lines)
    return workdir.config


# --- numbers where text is meant ------------------------------------------------------------


def test_numbers_in_text_fields_keep_their_spelling(workdir):
    """YAML reads `0123` as the octal 83 and `2303.04130` as the float 2303.0413: an id, a liked
    paper or a keyword written that way must mean what it says, not the number YAML made of it."""
    workdir.write_config(
        SOURCES.replace("url: feed.xml", "url: feed.xml\n  every: 6h"),
        "- id: 0123\n"
        "  email: a@example.org\n"
        "  like: [2303.04130, 2006.10000, 2401.00010]\n"
        "  keywords: [3.10, 1e3, 0x1F]\n"
        "- id: 2024-01-05\n"
        "  email: b@example.org\n"
        "  keywords: [robots]\n",
    )
    write_feed(workdir.path / "feed.xml", [])
    first, second = load_config(workdir.config).subscribers
    assert first.id == "0123"
    assert first.profile.likes == ("2303.04130", "2006.10000", "2401.00010")
    assert first.profile.keywords == ("3.10", "1e3", "0x1F")
    assert second.id == "2024-01-05"
    code, out, _ = run_cli(workdir, "--db", str(workdir.db), "sync")
    assert code == 0 and "2 added" in out


def test_a_subscriber_an_older_digestbot_stored_under_the_number_keeps_its_history(workdir):
    """`id: 0123` was subscriber 83 before ids were read as written: the store renames 83 to
    0123 with its ledger and paused state, instead of deactivating 83 and adding a 0123 that
    would mail a reader who had unsubscribed."""
    one_subscriber(workdir, "  keywords: [robots]\n")
    workdir.write_config(SOURCES, "- id: 0123\n  email: a@example.org\n  keywords: [robots]\n")
    with Store(workdir.db) as store:  # what the older digestbot stored, and the reader did
        store.sync_subscribers([Subscriber("83", Profile(("robots",)), email="a@example.org")])
        store.add_papers([Paper(key="arxiv:2403.00002", arxiv_id="2403.00002", title="Robots")], "feed")
        [paper] = store.papers_after(0)
        digest = store.create_digest(
            "83", [DigestItem(paper, 0, ("robots",), ())], 1, paper.rev, now_utc(), "<m@x>", "email", "a"
        )
        store.mark_sent(
            digest, now_utc()
        )  # received (a digest still waiting would be given back by the pause)
        store.set_paused("83", True)

    code, out, err = run_cli(workdir, "--db", str(workdir.db), "sync")
    assert code == 0 and "0 added" in out and "0 deactivated" in out, out + err
    with Store(workdir.db) as store:
        assert store.subscriber("83") is None
        moved = store.subscriber("0123")
        assert moved.subscriber.paused and moved.subscriber.email == "a@example.org"
        assert [d.subscriber_id for d in store.digests(subscriber_id="0123")] == ["0123"]
        assert store.received("0123", paper.seq)
    code, out, err = run_cli(workdir, "--db", str(workdir.db), "send", "--force")
    assert "Digests: 0 sent" in out and not list((workdir.path / "outbox").glob("*")), (
        out
    )  # still unsubscribed


# --- where a problem is reported --------------------------------------------------------------


def test_a_problem_in_a_list_names_the_item_and_its_line(workdir):
    """Items left out (empty, or of the wrong type) must not shift the index or line of the
    item a later problem is about."""
    one_subscriber(
        workdir,
        "  keywords:\n"
        "    - ''\n"
        "    - [nested]\n"
        "    - robots\n"
        "    - '**'\n"
        "  exclude:\n"
        "    - ''\n"
        "    - 'a*b'\n"
        "  like:\n"
        "    - ''\n"
        "    - not-an-id\n"
        "  sources:\n"
        "    - ''\n"
        "    - nowhere\n",
    )
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    at = {
        text: f"{workdir.config}:{line_of(workdir, text)}: "
        for text in ("[nested]", "**", "a*b", "not-an", "nowhere")
    }
    assert f"{at['[nested]']}subscribers[0].keywords[1]: expected text, got a list" in err
    assert f"{at['**']}subscribers[0].keywords[3]: '*' is only allowed at the end of a keyword: '**'" in err
    assert f"{at['a*b']}subscribers[0].exclude[1]: '*' is only allowed at the end of a keyword: 'a*b'" in err
    assert f"{at['not-an']}subscribers[0].like[1]: not an arXiv id or URL: 'not-an-id'" in err
    assert f"{at['nowhere']}subscribers[0].sources[1]: no source named 'nowhere'" in err


def test_a_control_character_in_the_yaml_is_a_problem_with_its_line(workdir):
    one_subscriber(workdir, "  keywords: [robots]\n")
    text = workdir.config.read_text(encoding="utf-8").replace("[robots]", "[rob\x01ots]")
    workdir.config.write_text(text, encoding="utf-8")
    line = text[: text.index("\x01")].count("\n") + 1
    for command in ("check", "sync"):
        code, _, err = run_cli(workdir, "--db", str(workdir.db), command)
        assert code == 2, err
        assert err.startswith(f"{workdir.config}:{line}: yaml: unacceptable character #x0001"), err
    assert not Path(workdir.db).exists()


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\x07"])
@pytest.mark.parametrize("key", ["keywords", "exclude", "authors", "categories"])
def test_invisible_or_control_characters_in_profile_terms_are_refused(workdir, key, char):
    """A right-to-left override in a keyword turns the footer that lists it around; a bell in
    one reaches every digest. The YAML is refused with the item's line."""
    term = json.dumps(f"diff{char}usion")  # a YAML double-quoted string is JSON-compatible
    lines = f"  keywords: [robots]\n  {key}:\n    - ok\n    - {term}\n"
    one_subscriber(workdir, lines.replace("  keywords: [robots]\n", "") if key == "keywords" else lines)
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    assert f"{workdir.config}:{line_of(workdir, term)}: subscribers[0].{key}[1]: " in err
    assert "control or invisible formatting character" in err


@pytest.mark.parametrize("space", ["\t", "\n", "  "])
def test_white_space_inside_a_quoted_term_is_one_space(workdir, space):
    """A tab or a line break in a quoted keyword loaded before (matching reads it as a space):
    it still does, stored as the one space matching sees."""
    one_subscriber(
        workdir, f'  exclude: [{json.dumps(f"survey{space}paper")}]\n  authors: ["Ada\\tLovelace"]\n'
    )
    [sub] = load_config(workdir.config).subscribers
    assert (sub.profile.exclude, sub.profile.authors) == (("survey paper",), ("Ada Lovelace",))
    code, _, err = run_cli(workdir, "check")
    assert code == 0, err


def test_joiners_that_scripts_spell_words_with_are_not_refused(workdir):
    """Persian writes many words with a zero-width non-joiner (U+200C): a name is not refused."""
    one_subscriber(workdir, '  authors: ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"]\n')
    code, _, err = run_cli(workdir, "check")
    assert code == 0, err


# --- libraries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, body",
    [
        ("ids.txt", "2303.04137\r\n# a comment\r\nhttps://arxiv.org/abs/2006.11239v2\r\n"),
        (
            "zotero.bib",
            "@article{chi2023,\r\n  title = {Diffusion Policy},\r\n  eprint = {2303.04137},\r\n"
            "  archivePrefix = {arXiv}\r\n}\r\n",
        ),
    ],
)
def test_a_library_saved_with_a_byte_order_mark_is_read(workdir, name, body):
    """Windows editors and some reference managers write UTF-8 with a BOM first."""
    (workdir.path / name).write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    one_subscriber(workdir, f"  library: {name}\n")
    likes = load_config(workdir.config).subscribers[0].profile.likes
    assert likes[0] == "2303.04137"
    code, _, err = run_cli(workdir, "check")
    assert code == 0, err


@pytest.mark.parametrize("body", [b"", b"@comment{exported by nothing}\n", b"# no papers yet\n"])
def test_a_library_with_no_papers_says_so(workdir, body):
    (workdir.path / "lib.bib").write_bytes(body)
    one_subscriber(workdir, "  library: lib.bib\n")
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    assert (
        f"{workdir.config}:{line_of(workdir, 'lib.bib')}: subscribers[0].library: lib.bib holds no papers"
        in err
    )
    assert "empty profile" not in err  # one problem, said once


def test_a_broken_library_is_one_problem_not_two(workdir):
    (workdir.path / "lib.bib").write_text("@article{x,\n title={Foo\n", encoding="utf-8")
    one_subscriber(workdir, "  library: lib.bib\n")
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    assert err.splitlines() == [
        f"{workdir.path / 'lib.bib'}:1: subscribers[0].library: BibTeX that cannot be parsed: @article{{x,",
        f"1 problem(s) in {workdir.config}; nothing was changed.",
    ]


# --- templates --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("check",), ("send", "--dry-run"), ("preview", "a"), ("send",)])
def test_a_template_that_is_not_utf8_is_a_problem_not_a_traceback(workdir, command):
    (workdir.path / "tpl").mkdir()
    (workdir.path / "tpl" / "digest.txt").write_bytes(b"Caf\xe9 {{ total }}\n")
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00001", "Robot learning", "About robots.")])
    workdir.write_config(SOURCES, subscriber("a", "robots"), extra_yaml="templates: tpl")
    code, _, err = run_cli(workdir, "--db", str(workdir.db), *command)
    assert code == 2
    assert f"{workdir.path / 'tpl' / 'digest.txt'}:1: template: not UTF-8 text" in err
    assert not workdir.outbox.exists()


def test_templates_saved_with_a_byte_order_mark_work(workdir, monkeypatch):
    (workdir.path / "tpl").mkdir()
    default = (ROOT / "templates" / "digest.slack.json").read_bytes()
    (workdir.path / "tpl" / "digest.slack.json").write_bytes(b"\xef\xbb\xbf" + default)
    (workdir.path / "tpl" / "digest.subject.txt").write_bytes(b"\xef\xbb\xbfDigest: {{ total }}")
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00001", "Robot learning", "About robots.")])
    workdir.write_config(SOURCES, subscriber("a", "robots"), extra_yaml="templates: tpl")
    assert run_cli(workdir, "check")[0] == 0
    renderer = Renderer(workdir.path / "tpl")
    assert renderer.email(sample_digest()).subject == "Digest: 3"
    assert renderer.slack(sample_digest(slack=True))[0]["blocks"]


# --- the database ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, message",
    [
        ("mysql://u@db.example.org/digest", "mysql:// is not a database digestbot can use"),
        ("sqlite:///tmp/x.db", "sqlite:// is not a database digestbot can use"),
        ("postgresql://u@127.0.0.1:abc/digest", "the PostgreSQL URL's port is not a number"),
    ],
)
@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("command", ["sync", "status", "check"])
def test_a_database_url_digestbot_cannot_use_is_a_usage_error(
    workdir, monkeypatch, target, message, how, command
):
    """Before, `--db mysql://u@db.example.org/digest` made a SQLite file at ./mysql:/u@db...,
    and a PostgreSQL URL with a port that is not a number was tried."""
    one_subscriber(workdir, "  keywords: [robots]\n")
    if how == "environment":
        monkeypatch.setenv("DIGESTBOT_DB", target)
        args = (command,)
    else:
        args = ("--db", target, command)
    code, _, err = run_cli(workdir, *args)
    assert code == 2, err
    shown = "DIGESTBOT_DB" if how == "environment" else "--db"
    assert f"{shown}: {message}" in err
    assert sorted(p.name for p in workdir.path.iterdir()) == ["feed.xml", "subscriptions.yaml"]


def test_a_password_in_the_database_url_is_fine_outside_the_yaml(workdir, monkeypatch):
    """DIGESTBOT_DB is where a PostgreSQL password belongs: nothing refuses it there (the
    server here is not running: the command fails to connect, with the password masked)."""
    one_subscriber(workdir, "  keywords: [robots]\n")
    port = free_port()
    monkeypatch.setenv("DIGESTBOT_DB", f"postgresql://u:hunter2@127.0.0.1:{port}/digest")
    code, _, err = run_cli(workdir, "sync")
    assert code == 1 and "cannot connect to the database" in err and "hunter2" not in err
    assert "Nothing more is sent" not in err  # sync sends nothing: it said so as send does


@pytest.mark.parametrize("database", ["", "/", "/?dbname=digest"], ids=["none", "slash", "dbname-query"])
def test_a_postgresql_url_may_leave_the_database_to_libpq(workdir, monkeypatch, database):
    """libpq takes the user's own database when the URL names none, or ?dbname=: digestbot
    tries it (nobody answers here: exit 1, a connection error) instead of refusing it."""
    one_subscriber(workdir, "  keywords: [robots]\n")
    monkeypatch.setenv("DIGESTBOT_DB", f"postgresql://u@127.0.0.1:{free_port()}{database}")
    code, _, err = run_cli(workdir, "sync")
    assert code == 1 and "cannot connect to the database" in err, err


def test_migrate_to_a_postgresql_nobody_answers_fails_and_says_where(workdir):
    one_subscriber(workdir, "  keywords: [robots]\n")
    digestbot(workdir, "sync")
    target = f"postgresql://u:hunter2@127.0.0.1:{free_port()}/digest"
    code, _, err = run_cli(workdir, "--db", str(workdir.db), "migrate", "--to", target)
    assert code == 1
    assert err.startswith(
        f"Stopped: cannot connect to the database postgresql://u:***@127.0.0.1:{target.split(':')[3]}"
    )
    assert "hunter2" not in err and "Nothing more is sent" not in err


@pytest.mark.parametrize(
    "target, message",
    [
        ("mysql://u@db.example.org/digest", "--to must be a postgresql:// URL"),
        ("postgresql://u@127.0.0.1:abc/digest", "--to: the PostgreSQL URL's port is not a number"),
    ],
)
def test_migrate_to_a_url_it_cannot_use_is_a_usage_error(workdir, target, message):
    one_subscriber(workdir, "  keywords: [robots]\n")
    digestbot(workdir, "sync")
    code, _, err = run_cli(workdir, "--db", str(workdir.db), "migrate", "--to", target)
    assert code == 2 and message in err, err


# --- serve ------------------------------------------------------------------------------------


def serve(workdir, *args: str) -> subprocess.CompletedProcess:
    """`python -m digestbot serve ...` as a user runs it; a server that starts is a failure
    here (each case must refuse to start), so it is given 60 s and then killed."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "digestbot",
            "--config",
            str(workdir.config),
            "--db",
            str(workdir.db),
            "serve",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=workdir.path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_serve_refuses_a_port_out_of_range(workdir):
    one_subscriber(workdir, "  keywords: [robots]\n")
    done = serve(workdir, "--port", "99999")
    assert done.returncode == 2, done.stderr
    assert "Invalid value for '--port': 99999 is not in the range 1<=x<=65535" in done.stderr


def test_serve_on_a_port_in_use_says_so(workdir):
    one_subscriber(workdir, "  keywords: [robots]\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve(workdir, "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in done.stderr.lower()


def test_serve_on_a_host_that_does_not_resolve_says_so(workdir):
    one_subscriber(workdir, "  keywords: [robots]\n")
    done = serve(workdir, "--host", "no-such-host.invalid")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot listen on no-such-host.invalid:8080" in done.stderr


# --- status shows remote text as it is --------------------------------------------------------


class MarkupRefusal(RecordingHandler):
    """Refuses every message with a reply that looks like rich's console markup."""

    async def handle_DATA(self, server, session, envelope):
        return "451 4.3.0 [/queue] [bold red]greylisted[/] :warning: try later"


def test_status_shows_server_replies_and_addresses_literally(workdir):
    """`status` printed its table as rich markup: a mail server's reply holding `[/queue]`
    crashed it with a MarkupError, and `[bold red]` or `:warning:` changed what was shown."""
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00001", "Robot learning", "About robots.")])
    workdir.write_config(
        SOURCES,
        subscriber("a", "robots")
        + "- id: b\n  email: '[red]b@example.org'\n  keywords: [robots]\n  schedule: daily 08:00\n",
    )
    with serving(MarkupRefusal()) as server:
        workdir.use_smtp(server.url)
        digestbot(workdir, "run", "--once", expect=1)
    code, out, err = run_cli(workdir, "--db", str(workdir.db), "status")
    assert code == 0, err
    for shown in ("[/queue]", "[bold red]greylisted[/]", ":warning:", "[red]b@example.org"):
        assert shown in out, out


# --- hostile subscriber text in the renderers -------------------------------------------------


def test_a_long_profile_keeps_the_slack_footer_and_its_link():
    """A reader with 200 long keywords: the Slack footer was cut at 3,000 characters, and the
    "Manage your digest" link at its end went with the cut."""
    d = sample_digest(slack=True)
    keywords = tuple(f"keyword number {i} " + "y" * 80 for i in range(200))
    d = replace(d, subscriber=replace(d.subscriber, profile=replace(d.subscriber.profile, keywords=keywords)))
    link = "https://digest.example.org/manage?t=abc"
    messages = Renderer().slack(d, manage_url=link)
    footer = messages[-1]["blocks"][-1]["elements"][0]["text"]
    assert len(footer) <= 3000
    assert footer.endswith(f"<{link}|Manage your digest>")
    assert "keyword number 0 " in footer and "more" in footer
    parts = Renderer().email(d, manage_url=link)
    text = " ".join(parts.text.split())  # wrapped at 76 columns
    assert "keyword number 0 " in text and "keyword number 199" not in text


def test_subscriber_terms_reach_no_digest_with_control_or_bidi_characters():
    """Terms from Slack's /digest or the web form are not checked by the YAML's rules: whatever
    is stored, the renderers show it without control, zero-width or direction characters."""
    d = sample_digest()
    evil = ("a\u202egnp.exe", "x\x07bell", "tab\there")
    profile = replace(d.subscriber.profile, keywords=evil, authors=("Mal\u202elory",))
    matches = [replace(m, terms=evil) for m in d.matches]
    d = replace(d, subscriber=replace(d.subscriber, profile=profile), matches=matches)
    parts = Renderer().email(d)
    slack = json.dumps(Renderer().slack(replace(d, subscriber=replace(d.subscriber, slack="#x", email=None))))
    for body in (parts.text, parts.html, slack):
        for char in ("\u202e", "\\u202e", "\x07", "\\u0007"):
            assert char not in body
    assert "a gnp.exe" in parts.text and "tab here" in parts.html


# --- the environment --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "DIGESTBOT_SLACK_API_URL",
            "slack.example.org/api",
            "DIGESTBOT_SLACK_API_URL must be an http(s) URL",
        ),
        (
            "DIGESTBOT_SLACK_API_URL",
            "ftp://slack.example.org/api/",
            "DIGESTBOT_SLACK_API_URL must be an http(s) URL",
        ),
        ("DIGESTBOT_OUTBOX", "feed.xml", "DIGESTBOT_OUTBOX must name a folder: feed.xml is a file"),
        (  # every link (unsubscribe, ratings, manage) would be https://d.example.org/?x=1/unsubscribe?t=...
            "DIGESTBOT_BASE_URL",
            "https://d.example.org/?x=1",
            "DIGESTBOT_BASE_URL cannot hold a query or a fragment",
        ),
        (
            "DIGESTBOT_BASE_URL",
            "https://d.example.org/#top",
            "DIGESTBOT_BASE_URL cannot hold a query or a fragment",
        ),
    ],
)
@pytest.mark.parametrize("command", [("check",), ("send",), ("run", "--once")])
def test_an_environment_setting_that_cannot_work_is_a_usage_error(
    workdir, monkeypatch, name, value, message, command
):
    """Before, every Slack digest failed at send time (and was retried, forever) for a Slack API
    URL that is not one, and every email digest for an outbox that is a file."""
    one_subscriber(workdir, "  keywords: [robots]\n")
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("DIGESTBOT_SECRET", "a secret long enough for the links")
    code, _, err = run_cli(workdir, "--db", str(workdir.db), *command)
    assert code == 2, err
    assert f"environment: {message}" in err
    assert not Path(workdir.db).exists()


# --- files the user names ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["missing/out.txt", "feed.xml/out.txt"])
@pytest.mark.parametrize("fmt", ["text", "json", "eml"])
def test_preview_into_a_file_that_cannot_be_written_says_so(workdir, where, fmt):
    one_subscriber(workdir, "  keywords: [robots]\n  schedule: daily 08:00\n")
    digestbot(workdir, "fetch")
    code, _, err = run_cli(workdir, "--db", str(workdir.db), "preview", "a", "--format", fmt, "-o", where)
    assert code == 2
    assert err.startswith(f"Error: cannot write {where}: "), err


def test_init_where_a_file_is_in_the_way_says_so(workdir):
    (workdir.path / "taken").write_text("a file, not a folder", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", "taken/subscriptions.yaml", "init"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot write taken/subscriptions.yaml: "), result.stderr


def test_a_library_file_too_big_to_be_one_is_refused_unread(workdir):
    """A 40 MB file was read whole and parsed (seconds of CPU at every config reload) before the
    5,000-paper limit refused it."""
    with open(workdir.path / "huge.bib", "wb") as f:
        f.truncate(40 * 2**20)
    one_subscriber(workdir, "  keywords: [robots]\n  library: huge.bib\n")
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    assert (
        f"{workdir.config}:{line_of(workdir, 'huge.bib')}: subscribers[0].library: "
        f"{workdir.path / 'huge.bib'} is 40 MB; a library can be at most 32 MB"
    ) in err


# --- subscribers no digest goes to ------------------------------------------------------------


def test_send_or_preview_for_a_subscriber_removed_from_the_yaml_says_so(workdir):
    """Before, `send --subscriber bob` for a bob removed from the YAML exited 0 having done
    nothing, and `preview bob` showed a digest bob would never get."""
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00001", "Robot learning", "About robots.")])
    workdir.write_config(SOURCES, subscriber("alice", "robots") + subscriber("bob", "robots"))
    digestbot(workdir, "fetch")
    workdir.write_config(SOURCES, subscriber("alice", "robots"))
    for args in (
        ("send", "--subscriber", "bob", "--force"),
        ("send", "--dry-run", "--subscriber", "bob"),
        ("preview", "bob"),
    ):
        code, _, err = run_cli(workdir, "--db", str(workdir.db), *args)
        assert code == 2, err
        assert f"no digest goes to bob: no longer in {workdir.config} (deactivated, history kept)" in err
    assert not workdir.outbox.exists()


def test_send_for_a_paused_subscriber_says_so_and_preview_still_shows_it(workdir):
    from digestbot.store import Store

    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00001", "Robot learning", "About robots.")])
    workdir.write_config(SOURCES, subscriber("alice", "robots"))
    digestbot(workdir, "fetch")
    with Store(workdir.db) as store:
        store.set_paused("alice", True)
    code, _, err = run_cli(workdir, "--db", str(workdir.db), "send", "--subscriber", "alice", "--force")
    assert code == 2
    assert "no digest goes to alice: paused (unsubscribed)" in err
    assert not workdir.outbox.exists()
    code, out, _ = run_cli(workdir, "--db", str(workdir.db), "preview", "alice")
    assert code == 0 and "Robot learning" in out


@pytest.mark.parametrize("written", ["2024-13-45", "'2024-02-30'", "2024-02-30"])
def test_a_date_that_does_not_exist_is_a_problem_not_a_traceback(workdir, written):
    """YAML reads an unquoted 2024-13-45 as a date, and PyYAML raised ValueError out of `check`;
    a quoted 2024-02-30 passed the shape check and failed every fetch."""
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(
        SOURCES + f"- name: hf\n  type: hf_daily\n  date: {written}\n",
        "- id: 2024-13-45\n  email: a@example.org\n  keywords: [robots]\n",
    )
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    assert err.splitlines() == [
        f"{workdir.config}:{line_of(workdir, 'date:')}: sources[1].date: "
        f"not a date: {written.strip(chr(39))!r} (YYYY-MM-DD)",
        f"1 problem(s) in {workdir.config}; nothing was changed.",
    ]


def test_ids_and_names_that_differ_only_by_spaces_are_duplicates(workdir):
    """`id: a` and `id: "a "` are both stored as `a`: sync reported "1 added, 1 updated" and the
    second subscriber silently took the first one's place and history."""
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(
        SOURCES + '- name: " feed"\n  type: arxiv_rss\n  url: feed.xml\n',
        subscriber("a", "robots") + subscriber('"a "', "cats").replace('"a "@', "b@"),
    )
    code, _, err = run_cli(workdir, "--db", str(workdir.db), "sync")
    assert code == 2
    id_line, name_line = line_of(workdir, 'id: "a "'), line_of(workdir, 'name: " feed"')
    assert f"{workdir.config}:{id_line}: subscribers[1].id: duplicate id 'a'" in err
    assert f"{workdir.config}:{name_line}: sources[1].name: duplicate name 'feed'" in err
    assert not Path(workdir.db).exists()


def test_a_web_page_template_that_is_not_utf8_is_a_problem_not_a_traceback(workdir, monkeypatch):
    (workdir.path / "tpl" / "web").mkdir(parents=True)
    (workdir.path / "tpl" / "web" / "base.html").write_bytes(b"<p>Caf\xe9</p>\n")
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(
        SOURCES, subscriber("a", "robots"), extra_yaml="templates: tpl\nweb:\n  signup: true"
    )
    monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.example.org")
    monkeypatch.setenv("DIGESTBOT_SECRET", "a secret long enough for the links")
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    assert f"{workdir.path / 'tpl' / 'web' / 'base.html'}:1: template: not UTF-8 text" in err


class EscapeRefusal(RecordingHandler):
    """Refuses every message with a reply holding a terminal escape and a direction override."""

    async def handle_DATA(self, server, session, envelope):
        return "451 4.3.0 \x1b[2J\x1b]0;owned\x07cleared \u202eyalps"


def test_status_never_prints_a_servers_control_characters(workdir):
    """A mail server's reply is stored as the digest's last error; `status` printed it raw, so a
    reply holding ESC [2J cleared the operator's terminal (rich keeps escape sequences)."""
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00001", "Robot learning", "About robots.")])
    workdir.write_config(SOURCES, subscriber("a", "robots"))
    with serving(EscapeRefusal()) as server:
        workdir.use_smtp(server.url)
        ran = digestbot(workdir, "run", "--once", expect=1).output
        sent = digestbot(workdir, "send", "--force", expect=1).output
    code, out, err = run_cli(workdir, "--db", str(workdir.db), "status")
    assert code == 0, err
    for shown in (ran, sent, out):
        assert "cleared" in shown and "yalps" in shown
        for char in ("\x1b", "\x07", "\u202e"):
            assert char not in shown


class EscapeReason(BaseHTTPRequestHandler):
    """A feed server whose status line's reason phrase holds terminal escapes."""

    def do_GET(self):
        self.send_response(503, "Busy \x1b[2J\x1b]0;owned\x07now")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("command", [("fetch",), ("run", "--once")])
def test_fetch_and_run_never_print_a_servers_control_characters(workdir, command):
    """`HTTP 503 <reason>` is what a failed fetch says, and the reason is the server's: printed
    raw, ESC [2J cleared the terminal of whoever ran `digestbot fetch`."""
    with http_server(EscapeReason) as url:
        workdir.write_config(f"- name: feed\n  type: rss\n  url: {url}/feed.xml\n", subscriber("a", "robots"))
        result = digestbot(workdir, *command, expect=1)
    assert "feed: FAILED: HTTP 503 Busy " in result.stdout and "owned" in result.stdout
    for char in ("\x1b", "\x07"):
        assert char not in result.output


@pytest.mark.parametrize(
    "address",
    ["a" * 65 + "@example.org", "a@" + "b" * 250 + ".org", "a\u202e@example.org", "a\x07@example.org"],
)
def test_an_address_no_mail_server_takes_is_refused(workdir, address):
    """RFC 5321 caps a local part at 64 characters and an address at 254: such a digest failed
    at every send and was retried for ever."""
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(SOURCES, f"- id: a\n  email: {json.dumps(address)}\n  keywords: [robots]\n")
    code, _, err = run_cli(workdir, "check")
    assert code == 2
    line = line_of(workdir, f"email: {json.dumps(address)}")
    assert f"{workdir.config}:{line}: subscribers[0].email: not an email address: {address[:80]!r}" in err
