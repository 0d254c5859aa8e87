"""Faults found by trying to break the Slack surface and trending digests as a hostile or unlucky
workspace would: the real web app on loopback, signed like Slack signs, a local stand-in for
the Slack Web API, and the real CLI. Each test checks what arrived or what the database holds."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import timedelta

import pytest
import test_slack
import test_store
from helpers import FeedPaper, digestbot, raw_sql
from test_feedback import interactive as click
from test_feedback import ratings
from test_slack import (
    IMITATION,
    REASONING,
    TOKEN,
    UNSUB_SECRET,
    email_sub,
    setup,
    slack_state,
    slack_sub,
    wait_for,
)

from digestbot.delivery.slack import SlackTransport
from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback
web = test_slack.web  # the fixture: that app over two YAML email subscribers, the feed fetched
store, ledger = test_store.store, test_store.ledger  # fixtures: a fresh store (each backend), with papers
T0 = test_store.T0


@pytest.fixture
def web_alice(workdir, start_web):
    """The web app over a config with one YAML email subscriber and an empty feed."""
    setup(workdir, [], email_sub("alice"))
    return start_web()


slack = test_slack.slack  # the fixture: a Slack Web API stand-in


def button(key: str, user: str, channel: str, channel_name: str, action: str = "feedback_up") -> dict:
    """A block_actions payload as Slack sends it: the channel with its id and name."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "ada", "team_id": "T1"},
        "channel": {"id": channel, "name": channel_name},
        "team": {"id": "T1", "domain": "lab"},
        "actions": [{"action_id": action, "value": key, "type": "button"}],
    }


def send_with_buttons(workdir, slack, start_web, *subscribers: str):
    """IMITATION and REASONING sent to these subscribers, with rating buttons; the web app."""
    setup(workdir, [IMITATION, REASONING], *subscribers)
    digestbot(workdir, "fetch")
    web = start_web()
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", web.url)
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", UNSUB_SECRET)
    digestbot(workdir, "send")
    return web


# --- rating buttons: which digest a click counts for ---------------------------------------------


def test_a_click_in_a_channel_whose_digest_is_set_up_by_name_counts_for_that_digest(
    workdir, slack, start_web
):
    web = send_with_buttons(workdir, slack, start_web, slack_sub("ml", "#ml-papers"))
    key = f"arxiv:{IMITATION.aid}"
    [post] = slack.posts

    assert (
        click(web, button(buttons_of(post)[IMITATION.aid], "U0MEMBER1", "C0MLCHAN1", "ml-papers")).status_code
        == 200
    )

    assert ratings(workdir.db) == {"ml": {key: 1}}
    click(web, button(key, "U0MEMBER1", "C0MLCHAN1", "ml-papers", action="feedback_down"))  # an older button
    assert ratings(workdir.db) == {"ml": {key: -1}}


def test_a_click_in_a_channel_counts_for_the_channel_not_the_clickers_own_digest(workdir, slack, start_web):
    # The clicker has a digest of their own (by DM) that got the same paper.
    web = send_with_buttons(
        workdir,
        slack,
        start_web,
        slack_sub("me", "U0MEMBER1"),
        slack_sub("ml", "C0MLCHAN1"),
    )
    key = f"arxiv:{IMITATION.aid}"  # the value of an older button: the paper alone

    click(web, button(key, "U0MEMBER1", "C0MLCHAN1", "ml-papers", action="feedback_down"))

    assert ratings(workdir.db) == {"me": {}, "ml": {key: -1}}
    click(web, button(key, "U0MEMBER1", "D0DMCHAN1", "directmessage"))  # the same paper in the DM
    assert ratings(workdir.db) == {"me": {key: 1}, "ml": {key: -1}}


# --- Enterprise Grid ----------------------------------------------------------------------------


def test_an_enterprise_grid_user_id_is_a_valid_yaml_target_and_gets_a_dm(workdir, slack):
    # On an Enterprise Grid org user ids start with W; /digest makes `slack:W…` digests, and the
    # README's way to move one into the YAML is to give a YAML subscriber the same target.
    setup(workdir, [IMITATION, REASONING], slack_sub("grid", "W0GRIDUSR"))

    digestbot(workdir, "check")
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")

    assert [c.body["users"] for c in slack.calls_to("conversations.open")] == ["W0GRIDUSR"]
    [post] = slack.posts
    assert test_slack.paper_ids(post.body) == [IMITATION.aid]


# --- what Slack sends: text escaped as in every Slack message ----------------------------------

RND = FeedPaper("2501.20001", "Open R&D Pipelines for Robot Learning", "How labs share R&D results <fast>.")


def test_a_keyword_typed_with_an_ampersand_is_stored_as_typed_and_matches(workdir, slack, start_web):
    # Slack escapes &, < and > in everything a user types ("R&D" arrives as "R&amp;D"), slash
    # commands included: the keyword is what the user typed, shown as typed, and it matches.
    setup(workdir, [RND, REASONING], email_sub("alice"))
    digestbot(workdir, "fetch")
    web = start_web()

    reply = web.command("subscribe R&amp;D, a &lt;b&gt;")

    assert "Added `R&amp;D`, `a &lt;b&gt;`." in reply  # mrkdwn for R&D and a <b>: shown as typed
    assert "&amp;amp;" not in reply and "&amp;lt;" not in reply
    state = test_slack.slack_state(web)
    assert state.subscriber.profile.keywords == ("R&D", "a <b>")
    assert "`R&amp;D`" in web.command("unsubscribe a &lt;b&gt;")
    digestbot(workdir, "send")
    [post] = slack.posts
    assert test_slack.paper_ids(post.body) == [RND.aid]


# --- Slack's 3-second rule ----------------------------------------------------------------------


class WriteLock:
    """Another process's write transaction on the SQLite database (a run storing a big fetch),
    held until `release()` or `hold` seconds."""

    def __init__(self, db, hold: float = 20.0):
        self.db, self.hold = db, hold
        self.taken, self.released = threading.Event(), threading.Event()
        self.expired = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.taken.wait(5), "could not lock the database"

    def _run(self) -> None:
        conn = sqlite3.connect(self.db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        self.taken.set()
        self.expired = not self.released.wait(self.hold)
        conn.execute("ROLLBACK")
        conn.close()

    def release(self) -> None:
        self.released.set()
        self.thread.join(5)


def test_a_command_on_a_busy_database_is_acknowledged_in_time_and_answered_after(
    workdir, slack_api, start_web
):
    # Slack shows the user an error when the answer takes more than 3 s, though the command may
    # still be applied: the answer must come in time, and the outcome through response_url.
    setup(workdir, [IMITATION, REASONING], email_sub("alice"))
    digestbot(workdir, "fetch")
    web = start_web()
    lock = WriteLock(workdir.db)
    try:
        reply = web.command("subscribe diffusion policy", response_url=f"{slack_api.root}/commands/T1/busy-1")
        answered_under_lock = not lock.released.is_set() and not lock.expired
    finally:
        lock.release()

    assert answered_under_lock  # the reply did not wait for the database
    assert "a moment" in reply
    [follow_up] = wait_for(lambda: slack_api.calls_to("busy-1"), timeout=40)
    assert follow_up.body["response_type"] == "ephemeral"
    assert "Added `diffusion policy`" in follow_up.body["text"]
    assert test_slack.slack_state(web).subscriber.profile.keywords == ("diffusion policy",)


def test_a_click_on_a_busy_database_is_acknowledged_in_time_and_recorded_after(workdir, slack, start_web):
    web = send_with_buttons(workdir, slack, start_web, slack_sub("ml", "C0MLCHAN1"))
    key = f"arxiv:{IMITATION.aid}"
    lock = WriteLock(workdir.db)
    try:
        status = click(web, button(key, "U0MEMBER1", "C0MLCHAN1", "ml-papers")).status_code
        answered_under_lock = not lock.released.is_set() and not lock.expired
    finally:
        lock.release()

    assert status == 200 and answered_under_lock
    assert wait_for(lambda: ratings(workdir.db) == {"ml": {key: 1}}, timeout=40)


# --- trending from Slack ------------------------------------------------------------------------


def test_a_trending_digest_is_described_with_the_number_of_papers_it_brings(workdir, slack, start_web):
    # `/digest trending 30` brings the 30 most upvoted papers, past max_papers (25 by default):
    # the reply says so rather than "up to 25 papers".
    items = [FeedPaper(f"2501.3{i:04d}", f"Trending paper {i}", f"Abstract {i}.") for i in range(40)]
    test_slack.hf_file(workdir, {p: 100 + i for i, p in enumerate(items)})
    test_slack.write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(test_slack.HF_SOURCES, email_sub("alice"))
    digestbot(workdir, "fetch")
    web = start_web()

    reply = web.command("trending 30")

    assert "up to 30 papers" in reply and "up to 25 papers" not in reply
    digestbot(workdir, "send")
    sent = [aid for post in slack.posts for aid in test_slack.paper_ids(post.body)]
    assert sent == [p.aid for p in reversed(items)][:30]


def buttons_of(post) -> dict[str, str]:
    """The "More like this" button values of a posted digest, by the paper's arXiv id."""
    blocks = post.body["blocks"] if isinstance(post.body["blocks"], list) else json.loads(post.body["blocks"])
    papers = test_slack.paper_ids(post.body)
    values = [
        e["value"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "feedback_up"
    ]
    assert len(values) == len(papers)
    return dict(zip(papers, values, strict=True))


def test_a_click_counts_for_the_digest_it_was_in_when_a_channel_has_two(workdir, slack, start_web):
    # One channel, two digests (robotics and reasoning); both got IMITATION.
    web = send_with_buttons(
        workdir,
        slack,
        start_web,
        slack_sub("robots", "C0MLCHAN1", "imitation learning"),
        slack_sub("thinking", "C0MLCHAN1", "imitation learning", "reasoning"),
    )
    first, second = slack.posts
    robots, thinking = (buttons_of(p) for p in (first, second))
    assert set(thinking) == {IMITATION.aid, REASONING.aid}

    click(web, button(thinking[REASONING.aid], "U0MEMBER1", "C0MLCHAN1", "ml-papers"))
    click(web, button(thinking[IMITATION.aid], "U0MEMBER1", "C0MLCHAN1", "ml-papers", action="feedback_down"))

    imitation, reasoning = f"arxiv:{IMITATION.aid}", f"arxiv:{REASONING.aid}"
    assert ratings(workdir.db) == {"robots": {}, "thinking": {reasoning: 1, imitation: -1}}
    click(web, button(robots[IMITATION.aid], "U0MEMBER1", "C0MLCHAN1", "ml-papers"))
    assert ratings(workdir.db) == {"robots": {imitation: 1}, "thinking": {reasoning: 1, imitation: -1}}
    # A button is honoured only where its digest is delivered: not from another channel.
    click(web, button(robots[IMITATION.aid], "U0MEMBER1", "C0OTHER01", "elsewhere", action="feedback_down"))
    assert ratings(workdir.db)["robots"] == {imitation: 1}


# --- a long digest's parts: the same split on every attempt --------------------------------------


def long_papers(abstract: str) -> list[FeedPaper]:
    authors = ", ".join(f"Author{i} Surname{i}" for i in range(30))
    return [
        FeedPaper(f"2502.{i:05d}", f"Imitation learning {i}: " + "a long title " * 22, abstract, authors)
        for i in range(1, 31)
    ]


def test_a_retried_digest_posts_each_paper_once_though_its_papers_changed_since(workdir, slack):
    # Part 1 of a long digest went out, part 2 failed. Before the retry the feed revised the
    # papers' abstracts (longer texts): the retry must not shift papers between parts, which
    # would post some twice and never post others.
    items = long_papers("imitation learning, briefly.")
    part_1, failed_2, record = test_slack.send_failing_after_part_1(workdir, slack, items, max_papers=30)
    test_slack.write_feed(workdir.path / "feed.xml", long_papers("imitation learning " + "at length " * 40))
    digestbot(workdir, "fetch")

    digestbot(workdir, "send", "--force")

    retried = slack.posts[2:]
    delivered = [aid for p in (part_1, *retried) for aid in test_slack.paper_ids(p.body)]
    assert sorted(delivered) == sorted(i.aid for i in items)  # none missing, none twice
    assert delivered == test_slack.ranked_ids(workdir.db, record.id)
    assert retried[0].body == failed_2.body  # the rest of the very messages the first attempt began
    [record] = test_slack.ledger(workdir.db)
    assert (record.status, record.parts_sent) == ("sent", 1 + len(retried))
    with Store(workdir.db) as store:
        assert store.posted_parts(record.id) is None  # kept only until it was sent


def test_the_messages_of_a_digest_sent_in_part_are_kept_until_it_is_done_on_both_backends(ledger):
    messages = [{"text": f"part {n} · ünïcode <&>", "blocks": [{"type": "divider"}]} for n in (1, 2, 3)]
    sent, given_up, cancelled = (
        test_store.new_digest(ledger, sid, (n,), f"m{n}")
        for n, sid in ((1, "alice"), (2, "alice"), (3, "bob"))
    )
    for digest_id in (sent, given_up, cancelled):
        ledger.set_parts_sent(digest_id, 1, messages)
    ledger.set_parts_sent(sent, 2)
    ledger.mark_attempt_failed(sent, "internal_error", T0 + timedelta(minutes=5))

    assert ledger.posted_parts(sent) == messages and ledger.digest(sent).parts_sent == 2
    ledger.mark_sent(sent, T0)
    ledger.mark_attempt_failed(given_up, "channel_not_found", None)
    ledger.cancel_pending("bob", "the subscriber paused")
    assert [ledger.posted_parts(i) for i in (sent, given_up, cancelled)] == [None, None, None]


def test_list_shows_every_digest_a_channel_gets(workdir, start_web):
    setup(
        workdir,
        [IMITATION, REASONING],
        slack_sub("robots", "C0MLCHAN1", "imitation learning"),
        slack_sub("thinking", "#ml-papers", "reasoning"),
        slack_sub("elsewhere", "C0OTHER01", "reasoning"),
    )
    digestbot(workdir, "fetch")
    web = start_web()

    reply = web.command("channel list", channel="C0MLCHAN1", channel_name="ml-papers")

    assert "*Digest `robots`*" in reply and "*Digest `thinking`*" in reply
    assert "`imitation learning`" in reply and "`reasoning`" in reply
    assert "elsewhere" not in reply


@pytest.mark.parametrize(
    "column, value",
    [
        pytest.param("timezone", "US/Pacific-New", id="a-timezone-tzdata-no-longer-has"),
        pytest.param("schedule", "every full moon", id="a-schedule-an-older-version-stored"),
    ],
)
def test_a_digest_stored_with_a_schedule_this_version_cannot_read_is_still_listed(web_alice, column, value):
    # digestbot run skips such a subscriber with a warning; /digest must not answer with a crash.
    web = web_alice
    web.command("subscribe diffusion policy")
    raw_sql(
        web.db,
        f"UPDATE subscribers SET {column} = '{value}', last_run_at = '2026-11-30T08:00:00.000000Z'"
        f" WHERE id = 'slack:{test_slack.USER}'",
    )

    reply = web.command("list")

    assert "`diffusion policy`" in reply and value in reply
    assert "can't be read" in reply
    assert "Schedule set to `daily 09:00`" in web.command("schedule daily 09:00 UTC")  # and it can be fixed


def test_a_follow_up_that_slack_refuses_is_logged(workdir, slack_api, start_web):
    # A response_url is good for 30 minutes and 5 posts: past that Slack answers 404 expired_url.
    # The preview never reached the user: the log must say so.
    setup(workdir, [IMITATION, REASONING], email_sub("alice"))
    digestbot(workdir, "fetch")  # (sets the root logger's handlers and level, as for a CLI run)
    web = start_web()
    web.command("subscribe imitation learning")
    slack_api.answer("preview-9", status=404, body={"ok": False, "error": "expired_url"})
    said: list[logging.LogRecord] = []
    listener = logging.Handler(logging.WARNING)
    listener.emit = said.append
    logger = logging.getLogger("digestbot.slack_app")
    logger.addHandler(listener)
    logger.setLevel(logging.INFO)  # as `digestbot serve` logs
    try:
        web.command("preview", response_url=f"{slack_api.root}/commands/T1/preview-9")
        wait_for(lambda: slack_api.calls_to("preview-9"))
        refused = wait_for(lambda: [r for r in said if "response_url" in r.getMessage()])
    finally:
        logger.removeHandler(listener)
        logger.setLevel(logging.NOTSET)

    assert "404" in refused[0].getMessage() and "expired_url" in refused[0].getMessage()


@pytest.mark.parametrize(
    "text, spec, zone",
    [
        ("daily 08:00 CET", "daily 08:00", "CET"),
        ("weekdays 07:30 Japan", "weekdays 07:30", "Japan"),
        ("0 7 * * 1-5 EST5EDT", "0 7 * * 1-5", "EST5EDT"),
        ("weekly fri 17:00 Etc/GMT+5", "weekly fri 17:00", "Etc/GMT+5"),
        ("0 9 * * mon-fri", "0 9 * * mon-fri", "UTC"),
    ],
)
def test_a_timezone_named_without_a_slash_is_read_as_the_timezone(web, text, spec, zone):
    web.command("subscribe diffusion policy")
    reply = web.command(f"schedule {text}")
    assert f"Schedule set to `{spec}` ({zone})" in reply, reply
    sub = slack_state(web).subscriber
    assert (sub.schedule, sub.timezone) == (spec, zone)


def test_a_timezone_spelled_in_the_wrong_case_is_named_as_the_problem(web):
    web.command("subscribe diffusion policy")
    reply = web.command("schedule daily 08:00 utc")
    assert "unknown timezone 'utc' (did you mean 'UTC'?)" in reply, reply
    reply = web.command("schedule daily 8am")  # no zone in it: the time is what is wrong
    assert "got '8am'" in reply and "timezone" not in reply, reply


def test_unsubscribe_says_which_keywords_it_removed_and_which_were_not_followed(web):
    web.command("subscribe diffusion policy, robot*")
    reply = web.command("unsubscribe Diffusion Policy, world models")
    assert slack_state(web).subscriber.profile.keywords == ("robot*",)
    assert "Removed `Diffusion Policy`." in reply and "Removed `Diffusion Policy`, " not in reply, reply
    assert "Not among your keywords: `world models`." in reply, reply


def test_an_exclusion_made_from_slack_can_be_undone_from_slack(web):
    web.command("subscribe diffusion policy")
    web.command("exclude survey, benchmark")
    reply = web.command("unsubscribe Survey")
    assert "Papers mentioning `Survey` are no longer left out." in reply, reply
    profile = slack_state(web).subscriber.profile
    assert profile.exclude == ("benchmark",) and profile.keywords == ("diffusion policy",)


def test_a_button_naming_the_id_an_older_version_read_counts_for_that_digest(workdir, slack, start_web):
    # `id: 0123`, which versions that read YAML ids as numbers called "83" (octal): the buttons of the
    # digests they sent carry that id, as its signed email links do (those are honoured).
    web = send_with_buttons(workdir, slack, start_web, slack_sub("0123", "#ml-papers"))
    key = f"arxiv:{IMITATION.aid}"
    old_button = json.dumps({"digest": "83", "paper": key}, separators=(",", ":"))
    click(web, button(old_button, "U0MEMBER1", "C0MLCHAN1", "ml-papers"))
    assert ratings(workdir.db) == {"0123": {key: 1}}


def test_subscribing_to_an_excluded_word_follows_it_instead_of_keeping_it_vetoed(web):
    web.command("subscribe diffusion policy")
    web.command("exclude survey, benchmark")
    reply = web.command("subscribe Survey")  # every paper mentioning it was left out
    profile = slack_state(web).subscriber.profile
    assert profile.keywords == ("diffusion policy", "Survey") and profile.exclude == ("benchmark",)
    assert "no longer left out" in reply, reply


def test_excluding_a_followed_keyword_stops_following_it_and_says_so(web):
    """The other way round: the exclusion would veto every paper the keyword brings."""
    web.command("subscribe diffusion policy, robot*")
    reply = web.command("exclude Diffusion-Policy, survey")
    profile = slack_state(web).subscriber.profile
    assert profile.keywords == ("robot*",) and profile.exclude == ("Diffusion-Policy", "survey")
    assert "no longer followed" in reply, reply


# --- One channel written two ways is one channel to pace ----------------------------------------
# Fault: two digests for one channel, one subscriber writing it `#general` and the other by its
# id (`C0GENERAL`, as /digest records it), were paced apart: posts to the two went out in the same
# second, past Slack's one message a second per channel, because the pace was keyed on the
# channel as written. Slack's answer to a post names the channel's id; the pace (and the posts
# after it) now go by that id.


def test_a_channel_by_name_and_by_id_is_paced_as_one(slack_api):
    slack_api.answer(
        "chat.postMessage",
        body={"ok": True, "channel": "C0GENERAL", "ts": "1.1"},
        when={"channel": "#general"},
    )
    clock = test_slack.FakeClock()
    transport = SlackTransport(TOKEN, slack_api.url, clock=clock.now, sleep=clock.sleep)
    message = [{"text": "digest", "blocks": []}]

    assert transport.send("#general", message) == "slack #general"
    transport.send("C0GENERAL", message)
    transport.send("#general", message)

    assert clock.slept == [1.0, 1.0]
    assert [p.body["channel"] for p in slack_api.posts] == ["#general", "C0GENERAL", "C0GENERAL"]


# --- A paused digest started again says so ------------------------------------------------------
# Fault: /digest subscribe, /digest like and /digest trending N on a paused digest started it
# again without a word (the reply read as if nothing else had changed), so a reader who paused
# for a holiday and liked one paper got digests again unawares. The change stays (asking for
# papers is asking for digests), and the reply now says it.


@pytest.mark.parametrize("verb", ["subscribe world models", "like 2403.10657"])
def test_a_command_that_starts_a_paused_digest_again_says_so(web, verb):
    web.command("subscribe diffusion policy")
    web.command("pause")
    reply = web.command(verb)
    assert slack_state(web).subscriber.paused is False
    assert "Your digest was paused: it is on again (`/digest pause` stops it)." in reply
    assert "was paused" not in web.command(verb.replace("world models", "graphs").replace("10657", "10954"))
