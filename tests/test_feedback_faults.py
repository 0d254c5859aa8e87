"""Faults found by trying thumbs up/down and likes through every door (signed email links, Slack
buttons and `/digest like`, `digestbot feedback`, YAML `like:`): the real web app on loopback,
signed like Slack signs, a local stand-in for the Slack Web API, and the real CLI. Each test
checks what the database holds or what the next digest brings."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import requests
import responses
import test_feedback
import test_ledger_faults
import test_likes
import test_slack
import test_slack_faults
import test_store
from helpers import digestbot, not_due_soon
from test_feedback import interactive as click
from test_feedback import ratings
from test_likes import preview_json, sources, split_sample
from test_slack import UNSUB_SECRET
from test_slack_faults import button, buttons_of

from digestbot.models import Profile, Subscriber
from digestbot.store import Store
from digestbot.web import BAD_RATING_LINK

start_web = test_slack.start_web  # the fixture: the real web app on loopback
slack = test_slack.slack  # the fixture: a Slack Web API stand-in
store = test_store.store  # the fixture: a fresh store (each backend)
T0 = test_store.T0
SAMPLE_SOURCE = "- name: sample\n  type: arxiv_rss\n  url: sample.xml\n"
SIMILAR = "similar to papers you rated up"


def yaml_sub(sid: str, **keys: str) -> str:
    lines = [f"- id: {sid}", f"  schedule: {not_due_soon()}", "  keywords: [diffusion policy]"]
    return "\n".join(lines + [f"  {k}: {v}" for k, v in keys.items()]) + "\n"


def slack_digest_handed_over(workdir, slack, start_web, user: str):
    """A Slack user's own digest (diffusion policy) sent by DM with rating buttons, from the
    first 100 papers of the sample; the rest of the sample, and the web app."""
    feed, everything = split_sample(workdir, 100)
    workdir.write_config(SAMPLE_SOURCE, yaml_sub("bob", email='"bob@example.org"'))
    digestbot(workdir, "fetch")
    web = start_web()
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", web.url)
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", UNSUB_SECRET)
    web.command("subscribe diffusion policy", user=user)
    digestbot(workdir, "send")
    [post] = slack.posts
    return web, feed, everything, buttons_of(post)


def hand_over_to_yaml(workdir, user: str) -> None:
    """The operator moves the Slack user's digest into the YAML as `ada`."""
    workdir.write_config(
        SAMPLE_SOURCE, yaml_sub("bob", email='"bob@example.org"') + yaml_sub("ada", slack=f'"{user}"')
    )
    assert "1 handed over" in digestbot(workdir, "sync").output


def test_a_click_on_a_button_sent_before_a_hand_over_counts_for_the_digest_that_took_over(
    workdir, slack, start_web
):
    user = "U0ADA0001"
    web, feed, everything, buttons = slack_digest_handed_over(workdir, slack, start_web, user)
    hand_over_to_yaml(workdir, user)

    for value in buttons.values():  # the reader rates the digest they had, after the move
        assert click(web, button(value, user, "D0ADA0001", "directmessage")).status_code == 200

    keys = {f"arxiv:{aid}" for aid in buttons}
    assert ratings(workdir.db)["ada"] == dict.fromkeys(keys, 1)
    feed.write_text(everything, encoding="utf-8")
    digestbot(workdir, "fetch")
    assert any(p["why"] == SIMILAR for p in preview_json(workdir, "ada"))


def test_ratings_made_before_a_hand_over_carry_over_and_can_be_cleared_from_the_cli(
    workdir, slack, start_web
):
    user = "U0ADA0002"
    web, feed, everything, buttons = slack_digest_handed_over(workdir, slack, start_web, user)
    for value in buttons.values():
        click(web, button(value, user, "D0ADA0002", "directmessage"))
    hand_over_to_yaml(workdir, user)
    feed.write_text(everything, encoding="utf-8")
    digestbot(workdir, "fetch")

    assert any(p["why"] == SIMILAR for p in preview_json(workdir, "ada"))
    for aid in buttons:  # papers the reader had from the Slack digest are theirs to rate
        assert "rating cleared" in digestbot(workdir, "feedback", "ada", aid, "clear").output
    assert not any(p["why"] == SIMILAR for p in preview_json(workdir, "ada"))
    with Store(workdir.db) as store:
        assert store.feedback(["ada"]) == {"ada": {}}


def test_a_click_whose_action_id_is_not_a_string_is_ignored_not_an_internal_error(workdir, slack, start_web):
    web = test_slack_faults.send_with_buttons(
        workdir, slack, start_web, test_slack.slack_sub("ml", "C0MLCHAN1")
    )
    key = f"arxiv:{test_slack.IMITATION.aid}"
    for action_id in (["feedback_up"], {"id": "feedback_up"}):
        payload = button(key, "U0MEMBER1", "C0MLCHAN1", "ml-papers")
        payload["actions"][0]["action_id"] = action_id
        answer = click(web, payload)
        assert answer.status_code == 200 and "internal error" not in answer.text
    assert ratings(workdir.db) == {"ml": {}}
    assert click(web, button(key, "U0MEMBER1", "C0MLCHAN1", "ml-papers")).status_code == 200
    assert ratings(workdir.db) == {"ml": {key: 1}}


@responses.activate
def test_a_liked_id_arxiv_does_not_know_is_no_warning_once_nobody_likes_it(workdir):
    responses.add(
        responses.GET, test_likes.API, body=test_likes.ATOM_ONE, content_type="application/atom+xml"
    )
    source = test_likes.sources(workdir)
    workdir.write_config(source, test_likes.sub("carol", like=["2501.00007", "2501.99999"]))
    digestbot(workdir, "fetch")
    assert "not on arXiv: 2501.99999" in digestbot(workdir, "status").output

    workdir.write_config(source, test_likes.sub("carol", like=["2501.00007"]))  # the typo removed
    digestbot(workdir, "fetch")

    assert "2501.99999" not in digestbot(workdir, "status").output
    assert "2501.99999" not in digestbot(workdir, "check").output
    assert len(responses.calls) == 1  # nothing was left to ask arXiv about


def test_a_trending_digest_which_ratings_cannot_steer_offers_no_rating_links_or_buttons(
    workdir, smtp_server, slack, start_web
):
    # A trending digest is the N most upvoted papers: a rating changes nothing in it, so a
    # "More like this" there would answer "Noted" and do nothing. A keyword digest keeps them.
    papers = [test_slack.IMITATION, test_slack.REASONING]
    test_slack.write_feed(workdir.path / "feed.xml", papers)
    test_slack.hf_file(workdir, {p: 10 + i for i, p in enumerate(papers)})
    trending = "  trending: 5\n"
    workdir.write_config(
        test_slack.HF_SOURCES,
        test_slack.email_sub("alice")
        + test_slack.email_sub("tina").replace("  keywords: [imitation learning]\n", trending)
        + test_slack.slack_sub("tom", "C0TRENDS1").replace("  keywords: [imitation learning]\n", trending),
    )
    test_slack.serve_signed_links(workdir, smtp_server, start_web)

    digestbot(workdir, "send")

    [keyword_mail], [trending_mail] = smtp_server.to("alice@example.org"), smtp_server.to("tina@example.org")
    assert "More like this" in keyword_mail.message.get_body(("plain",)).get_content()
    for part in trending_mail.message.iter_parts():
        assert "More like this" not in part.get_content() and "/feedback?" not in part.get_content()
        assert "/unsubscribe?" in part.get_content()
    [post] = slack.posts
    assert test_slack.paper_ids(post.body) == [test_slack.REASONING.aid, test_slack.IMITATION.aid]
    assert "feedback_up" not in json.dumps(post.body)


def test_a_removed_digest_of_a_channel_keeps_its_ratings_apart_from_the_channel_digest_that_stays(
    workdir, slack, start_web
):
    # Two YAML digests in one channel; one is removed. Its ratings (and the buttons of its old
    # messages) are not the other digest's: that one follows another topic.
    robots = test_slack.slack_sub("robots", "C0MLCHAN1", "imitation learning")
    thinking = test_slack.slack_sub("thinking", "C0MLCHAN1", "reasoning")
    web = test_slack_faults.send_with_buttons(workdir, slack, start_web, robots, thinking)
    robots_post = next(p for p in slack.posts if test_slack.IMITATION.aid in test_slack.paper_ids(p.body))
    [value] = buttons_of(robots_post).values()
    click(web, button(value, "U0MEMBER1", "C0MLCHAN1", "ml-papers"))
    test_slack.setup(workdir, [test_slack.IMITATION, test_slack.REASONING], thinking)
    digestbot(workdir, "sync")

    click(web, button(value, "U0MEMBER1", "C0MLCHAN1", "ml-papers", action="feedback_down"))

    key = f"arxiv:{test_slack.IMITATION.aid}"  # (a click on a removed digest records nothing)
    assert ratings(workdir.db) == {"robots": {key: 1}, "thinking": {}}


def test_ratings_pass_to_the_digest_that_took_over_and_back_on_both_backends(store):
    test_store.add_numbered(store, range(1, 4))
    slack_digest = Subscriber("slack:U1", Profile(keywords=("diffusion",)), slack="U1", origin="slack")
    store.save_slack_subscriber(slack_digest, T0)
    store.mark_sent(test_store.new_digest(store, "slack:U1", (1, 2, 3), "s1"), T0)
    one, two, three = (store.paper(f"test:{n}").key for n in (1, 2, 3))
    store.rate("slack:U1", one, 1, "slack")
    store.rate("slack:U1", two, 1, "slack")
    store.sync_subscribers([replace(test_store.sub("ada"), email=None, slack="U1")], T0)

    store.rate("slack:U1", three, -1, "slack")  # an old button, after the hand-over
    store.rate("ada", two, None, "cli")  # a paper the Slack digest delivered

    assert store.feedback(["ada"]) == {"ada": {one: 1, three: -1}}
    store.sync_subscribers([], T0)  # the YAML entry goes; the Slack digest comes back
    store.save_slack_subscriber(replace(slack_digest, active=True), T0)
    assert store.feedback(["slack:U1"]) == {"slack:U1": {one: 1, three: -1}}


def test_a_rating_the_database_cannot_take_is_a_503_saying_so_not_a_bad_link(workdir, smtp_server, start_web):
    web, text, _ = test_feedback.send_email_digest(workdir, smtp_server, start_web)
    more = re.search(r"More like this: (\S+)", text).group(1)
    token = parse_qs(urlsplit(more).query)["t"][0]
    test_ledger_faults.damage(workdir.db, "feedback")  # a bad sector under the ratings

    answer = requests.post(f"{web.url}/feedback", data={"t": token, "vote": "up"}, timeout=10)

    assert answer.status_code == 503 and "database" in answer.text
    assert BAD_RATING_LINK not in answer.text


# Fault: `/digest likes` listed every liked paper, one line each: a YAML digest whose library
# holds 1,500 papers got a reply of 66,000 characters, which Slack cuts off unannounced at
# 40,000 (mid-line). It lists as many as a reader may like (200), and says how many more.
def test_digest_likes_of_a_large_library_is_a_reply_slack_shows_whole(workdir, start_web):
    ids = [f"2501.{n:05d}" for n in range(1, 1501)]
    (workdir.path / "library.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    workdir.write_config(sources(workdir), "- id: carol\n  slack: U0LIKER01\n  library: library.txt\n")
    digestbot(workdir, "sync")
    listed = start_web().command("likes", user="U0LIKER01")
    assert len(listed) < 40_000 and listed.count("\n• ") == 200, len(listed)
    assert f"• `{ids[0]}`" in listed and f"`{ids[200]}`" not in listed
    assert "and 1300 more: 1500 in all, from subscriptions.yaml and its library" in listed, listed[-300:]


# Fault: `digestbot feedback` took an arXiv id or a paper's key; a blog post keyed by its guid
# (WordPress's `https://blog.example/?p=123`, not the post's link) could be rated only by that
# key, which no digest shows: the link the reader has was "not ... the key of a stored paper".
BLOG = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Lab blog</title><link>https://blog.example/</link>
<description>Posts</description>
<item><title>Narwhal songs, decoded</title><link>https://blog.example/2024/03/narwhal-songs/</link>
<guid isPermaLink="false">https://blog.example/?p=123</guid>
<description>What narwhals sing about.</description><pubDate>Thu, 14 Mar 2024 10:00:00 +0000</pubDate></item>
</channel></rss>
"""


def test_a_paper_without_an_arxiv_id_can_be_rated_by_the_link_its_digest_showed(workdir):
    (workdir.path / "blog.xml").write_text(BLOG, encoding="utf-8")
    workdir.write_config(
        "- name: blog\n  type: rss\n  url: blog.xml\n",
        f"- id: kim\n  email: kim@example.org\n  keywords: [narwhal]\n  schedule: {not_due_soon()}\n",
    )
    assert "kim: sent 1 paper" in digestbot(workdir, "run", "--once").output
    out = digestbot(workdir, "feedback", "kim", "https://blog.example/2024/03/narwhal-songs/", "up").output
    assert out == "kim: rated up: Narwhal songs, decoded\n"
    assert ratings(workdir.db)["kim"] == {"https://blog.example/?p=123": 1}
