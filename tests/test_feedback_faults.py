"""Faults found by trying thumbs up/down and likes through every door (signed email links, Slack
buttons and `/digest like`, `digestbot feedback`, YAML `like:`): the real web app on loopback,
signed like Slack signs, a local stand-in for the Slack Web API, and the real CLI. Each test
checks what the database holds or what the next digest brings."""

from __future__ import annotations

import json

import responses
import test_likes
import test_slack
import test_slack_faults
from helpers import digestbot, not_due_soon
from test_feedback import interactive as click
from test_feedback import ratings
from test_likes import preview_json, split_sample
from test_slack import UNSUB_SECRET
from test_slack_faults import button, buttons_of

from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback
slack = test_slack.slack  # the fixture: a Slack Web API stand-in
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
