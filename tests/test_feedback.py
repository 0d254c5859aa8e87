"""Thumbs up/down where readers are (issue 10): signed "more / less like this" links in email
digests, answered by the real web app (a GET shows a page and records nothing, the button POSTs),
and Slack buttons through verified interactivity. Checks what the database recorded."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import test_slack
from helpers import digestbot
from test_slack import IMITATION, REASONING, SIGNING_SECRET, UNSUB_SECRET, email_sub, setup, slack_signature

from digestbot.links import feedback_token, read_feedback_token
from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback
slack = test_slack.slack  # the fixture: a Slack Web API stand-in


def ratings(db) -> dict:
    with Store(db) as store:
        return store.feedback(s.subscriber.id for s in store.subscribers(include_inactive=True))


def send_email_digest(workdir, smtp_server, start_web):
    setup(workdir, [IMITATION, REASONING], email_sub("alice"), email_sub("bob", "reasoning"))
    web = test_slack.serve_signed_links(workdir, smtp_server, start_web)
    digestbot(workdir, "send")
    [mail] = smtp_server.to("alice@example.org")
    text, html_part = (part.get_content() for part in mail.message.iter_parts())
    return web, text, html_part


def test_email_links_show_a_page_and_only_the_button_records(workdir, smtp_server, start_web):
    web, text, html_part = send_email_digest(workdir, smtp_server, start_web)
    more = re.search(r"More like this: (\S+)", text).group(1)
    less = re.search(r"Less like this: (\S+)", text).group(1)
    assert more.startswith(f"{web.url}/feedback?") and "More like this</a>" in html_part
    token = parse_qs(urlsplit(more).query)["t"][0]
    sid, key = read_feedback_token(token, UNSUB_SECRET)
    assert sid == "alice" and key == f"arxiv:{IMITATION.aid}"

    page = requests.get(more, timeout=10)  # what a mail scanner does
    requests.get(less, timeout=10)
    assert page.status_code == 200 and IMITATION.title in page.text and 'method="post"' in page.text
    assert ratings(workdir.db) == {"alice": {}, "bob": {}}

    for _ in range(20):  # many clicks are one rating
        done = requests.post(f"{web.url}/feedback", data={"t": token, "vote": "up"}, timeout=10)
        assert done.status_code == 200
    assert ratings(workdir.db) == {"alice": {key: 1}, "bob": {}}
    requests.post(f"{web.url}/feedback", data={"t": token, "vote": "down"}, timeout=10)
    assert ratings(workdir.db) == {"alice": {key: -1}, "bob": {}}


def test_forged_altered_or_foreign_rating_links_get_400_and_record_nothing(workdir, smtp_server, start_web):
    web, text, _ = send_email_digest(workdir, smtp_server, start_web)
    token = parse_qs(urlsplit(re.search(r"More like this: (\S+)", text).group(1)).query)["t"][0]
    forged = feedback_token("alice", f"arxiv:{IMITATION.aid}", "not-the-secret")
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    not_received = feedback_token("bob", f"arxiv:{IMITATION.aid}", UNSUB_SECRET)  # bob never got it
    unknown_paper = feedback_token("alice", "arxiv:2401.99999", UNSUB_SECRET)
    for bad in (forged, altered, not_received, unknown_paper, "", "x.y"):
        for method in ("GET", "POST"):
            if method == "GET":
                response = requests.get(f"{web.url}/feedback", params={"t": bad, "vote": "up"}, timeout=10)
            else:
                response = requests.post(f"{web.url}/feedback", data={"t": bad, "vote": "up"}, timeout=10)
            if bad is not_received and method == "GET":
                continue  # the page shows (it records nothing); the POST is refused below
            assert response.status_code == 400, (bad, method, response.text)
            assert "Traceback" not in response.text
    assert ratings(workdir.db) == {"alice": {}, "bob": {}}


def interactive(web, payload: dict, secret: str = SIGNING_SECRET) -> requests.Response:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(secret, ts, body),
    }
    return requests.post(f"{web.url}/slack/interactive", data=body, headers=headers, timeout=10)


def button(action: str, key: str, user: str, channel: str) -> dict:
    return {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": channel},
        "actions": [{"action_id": action, "value": key, "type": "button"}],
    }


def test_slack_digest_buttons_record_ratings_through_verified_interactivity(workdir, slack, start_web):
    setup(workdir, [IMITATION, REASONING], test_slack.slack_sub("ml", "C0MLCHAN1", "imitation learning"))
    digestbot(workdir, "fetch")
    web = start_web()
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", web.url)
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", UNSUB_SECRET)
    digestbot(workdir, "send")
    [post] = [c for c in slack.calls if c.method == "chat.postMessage"]
    blocks = post.body["blocks"] if isinstance(post.body["blocks"], list) else json.loads(post.body["blocks"])
    actions = [b for b in blocks if b["type"] == "actions"]
    assert actions and [e["action_id"] for e in actions[0]["elements"]] == ["feedback_up", "feedback_down"]
    # The button names its digest and its paper; a value that is only the paper's key (buttons
    # of digests sent before) still counts for the digest of the channel, as below.
    key = f"arxiv:{IMITATION.aid}"
    assert json.loads(actions[0]["elements"][0]["value"]) == {"digest": "ml", "paper": key}

    assert (
        interactive(web, button("feedback_up", key, "U0MEMBER1", "C0MLCHAN1"), secret="wrong").status_code
        == 401
    )
    assert ratings(workdir.db) == {"ml": {}}
    assert interactive(web, button("feedback_down", key, "U0MEMBER1", "C0MLCHAN1")).status_code == 200
    assert ratings(workdir.db) == {"ml": {key: -1}}
    other = f"arxiv:{REASONING.aid}"  # not in the channel's digest: refused
    assert interactive(web, button("feedback_up", other, "U0MEMBER1", "C0MLCHAN1")).status_code == 200
    assert ratings(workdir.db) == {"ml": {key: -1}}
    for junk in ({"type": "block_actions", "actions": "x"}, {"type": "view_submission"}, {"actions": [1]}):
        assert interactive(web, junk).status_code == 200
    assert interactive(web, {}).status_code == 200
    body = urlencode({"payload": "[[[["}).encode()
    ts = str(int(time.time()))
    bad = requests.post(
        f"{web.url}/slack/interactive",
        data=body,
        headers={
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": slack_signature(SIGNING_SECRET, ts, body),
        },
        timeout=10,
    )
    assert bad.status_code == 400
