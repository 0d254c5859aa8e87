"""One database store per request: the web app opens at most one Store for a request (on first
use, closed when the request ends), and the mail it sends off the request opens its own, held
neither across the SMTP send nor across the wait for the relay's rate.

Against the real app on waitress over loopback, the real SMTP server and the real database:
every Store opened in the process is recorded with its thread and when it was closed, and each
page's answer and what it wrote to the database are checked too.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import test_web
from helpers import digestbot
from test_slack import UNSUB_SECRET
from test_web import FORM_FIELDS, QUOKKA, link_in, setup_site, subscribers, web_subscriber

from digestbot.links import feedback_token, make_token
from digestbot.store import Store
from digestbot.store.postgres import PostgresStore
from digestbot.store.sqlite import SqliteStore

start_site = test_web.start_site  # the fixture: the real app on waitress, mail to aiosmtpd
site = test_web.site  # the fixture: that app over a fetched feed, with the YAML subscriber alice


@dataclass
class Opened:
    thread: str
    opened_at: float
    closed_at: float | None = None


class StoreOpens:
    """Every Store opened in this process (either backend): on which thread, and when it was
    closed again."""

    def __init__(self):
        self.all: list[Opened] = []
        self._by_store: dict[int, Opened] = {}
        self._lock = threading.Lock()

    def opened(self, store: Store) -> None:
        with self._lock:
            entry = Opened(threading.current_thread().name, time.monotonic())
            self.all.append(entry)
            self._by_store[id(store)] = entry

    def closed(self, store: Store) -> None:
        with self._lock:
            entry = self._by_store.pop(id(store), None)
            if entry is not None:
                entry.closed_at = time.monotonic()

    def on(self, prefix: str, since: int = 0) -> list[Opened]:
        with self._lock:
            return [o for o in self.all[since:] if o.thread.startswith(prefix)]

    def open_on(self, prefix: str) -> list[Opened]:
        """The stores a thread named `prefix...` holds open right now."""
        return [o for o in self.on(prefix) if o.closed_at is None]


@pytest.fixture
def store_opens(monkeypatch) -> StoreOpens:
    opens = StoreOpens()
    for cls in (SqliteStore, PostgresStore):

        def counted(self, *args, _init=cls.__init__, **kwargs):
            _init(self, *args, **kwargs)
            opens.opened(self)

        monkeypatch.setattr(cls, "__init__", counted)
    close = Store.close

    def closing(self):
        opens.closed(self)
        close(self)

    monkeypatch.setattr(Store, "close", closing)
    return opens


REQUEST_THREAD = "waitress-"  # waitress's worker threads, which run the requests
MAIL_THREAD = "web-mail"  # the app's mail thread (AppContext.mailer)


class Counted:
    """A reader whose every request is checked: at most one store opened for it, and that one
    closed by the time the answer arrived."""

    def __init__(self, site, opens: StoreOpens):
        self.reader = site.browser()
        self.opens = opens
        self.counts: dict[str, int] = {}

    def csrf(self, page: str) -> str:
        return self.reader.token(page)

    def request(self, label: str, method: str, path: str, **kw) -> requests.Response:
        mark = len(self.opens.all)
        send = self.reader.http.get if method == "GET" else self.reader.http.post
        response = send(self.reader.site.url + path, timeout=10, allow_redirects=False, **kw)
        assert "Traceback" not in response.text
        got = self.opens.on(REQUEST_THREAD, mark)
        self.counts[label] = len(got)
        assert all(o.closed_at is not None for o in got), f"{label}: the request's store is still open"
        return response


def test_each_page_opens_at_most_one_store_per_request(backend, workdir, site, store_opens):
    """Sign-up, confirm, manage (show, save, pause, resume, unsubscribe), the manage link, the
    preview, the rating link and the one-click unsubscribe: one store (one database connection)
    each at most, on SQLite and on PostgreSQL."""
    c = Counted(site, store_opens)
    token = c.csrf("/")

    page = c.request(
        "sign-up",
        "POST",
        "/subscribe",
        data={"email": "ivy@uni.example", "keywords": "narwhal", **FORM_FIELDS, "csrf_token": token},
    )
    assert page.status_code == 200 and "Check your inbox" in page.text
    link = link_in(site.mails("ivy@uni.example", 1)[-1], "/confirm")
    confirm = parse_qs(urlsplit(link).query)["t"][0]

    done = c.request("confirm", "POST", "/confirm", data={"t": confirm, "csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"].endswith("/manage?welcome=1")
    sub = web_subscriber(site.db, "ivy@uni.example")
    assert sub.active and sub.profile.keywords == ("narwhal",)

    shown = c.request("manage", "GET", "/manage?welcome=1")
    assert shown.status_code == 200 and "You are subscribed" in shown.text and "narwhal" in shown.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', shown.text).group(1)

    form = {**FORM_FIELDS, "keywords": "narwhal, quokka", "max_papers": "7", "csrf_token": token}

    def changed(label: str, path: str, data: dict) -> str:
        """A manage change: its answer redirects (303) to the manage page, which says what it did."""
        done = c.request(label, "POST", path, data=data)
        assert done.status_code == 303 and done.headers["Location"].endswith("/manage")
        shown = c.request(f"{label}: manage", "GET", "/manage")
        assert shown.status_code == 200
        return shown.text

    assert "Saved" in changed("manage save", "/manage", form)
    sub = web_subscriber(site.db, "ivy@uni.example")
    assert sub.profile.keywords == ("narwhal", "quokka") and sub.max_papers == 7

    assert "Paused" in changed("pause", "/manage/pause", {"csrf_token": token})
    assert web_subscriber(site.db, "ivy@uni.example").paused
    assert "Resumed" in changed("resume", "/manage/resume", {"csrf_token": token})
    assert not web_subscriber(site.db, "ivy@uni.example").paused
    assert "Unsubscribed" in changed("manage unsubscribe", "/manage/unsubscribe", {"csrf_token": token})
    assert not web_subscriber(site.db, "ivy@uni.example").active

    sent = c.request(
        "manage link", "POST", "/manage/link", data={"email": "ivy@uni.example", "csrf_token": token}
    )
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    assert site.mails("ivy@uni.example", 2)[-1].message["Subject"].startswith("Your link")

    data = {"email": "", "keywords": "narwhal", **FORM_FIELDS, "csrf_token": token}
    preview = c.request("preview", "POST", "/preview", data=data, headers={"Accept": "application/json"})
    assert preview.status_code == 200 and preview.json()["total"] == 1

    digestbot(workdir, "send", "--force", "--subscriber", "alice")  # alice gets QUOKKA
    assert QUOKKA.title in site.smtp.to("alice@example.org")[-1].message.get_body(("plain",)).get_content()
    key = f"arxiv:{QUOKKA.aid}"
    rating = feedback_token("alice", key, UNSUB_SECRET)
    rate_page = c.request("feedback page", "GET", f"/feedback?t={rating}&vote=up")
    assert rate_page.status_code == 200 and QUOKKA.title in rate_page.text
    rated = c.request("feedback", "POST", "/feedback", data={"t": rating, "vote": "down"})
    assert rated.status_code == 200 and "Noted" in rated.text
    with Store(site.db) as store:
        assert store.feedback(["alice"]) == {"alice": {key: -1}}

    unsub = make_token("alice", UNSUB_SECRET)
    assert c.request("unsubscribe page", "GET", f"/unsubscribe?t={unsub}").status_code == 200
    assert subscribers(site.db)["alice"][3] is False  # the page changed nothing
    out = c.request("unsubscribe", "POST", f"/unsubscribe?t={unsub}")
    assert out.status_code == 200 and "Unsubscribed" in out.text
    assert subscribers(site.db)["alice"][3] is True

    health = c.request("health", "GET", "/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}

    once = dict.fromkeys(c.counts, 1)  # each used the database, through one store
    assert c.counts == {**once, "unsubscribe page": 0}  # (the confirmation page reads only its token)


def test_the_store_error_answers_are_unchanged_and_the_store_is_closed(workdir, site, store_opens):
    """A database that cannot be opened: the pages answer 503 and the health check says
    unreachable, as before; a paper the subscriber never received is a 400 and the
    request's store is still closed."""
    c = Counted(site, store_opens)
    rating = feedback_token("alice", f"arxiv:{QUOKKA.aid}", UNSUB_SECRET)  # alice got no digest yet
    refused = c.request("feedback", "POST", "/feedback", data={"t": rating, "vote": "up"})
    assert refused.status_code == 400 and "This rating link is not valid" in refused.text
    with Store(site.db) as store:
        assert store.feedback(["alice"]) == {"alice": {}}
    site.db.unlink()
    site.db.mkdir()  # not a database any more: opening it fails
    down = c.request("unsubscribe", "POST", f"/unsubscribe?t={make_token('alice', UNSUB_SECRET)}")
    assert down.status_code == 503 and down.headers["Retry-After"] == "60"
    assert "The digest database is unavailable right now" in down.text  # a page: a reader pressed it
    health = c.request("health", "GET", "/healthz")
    assert health.status_code == 503 and health.json() == {"status": "error", "database": "unreachable"}


def test_no_store_is_held_across_the_smtp_send_or_the_wait_for_the_relays_rate(
    workdir, start_site, store_opens
):
    """The sign-up's mail (a confirmation, then a manage link): the mail thread has closed every
    store it opened while it waits for its slot of DIGESTBOT_SMTP_RATE (shared with the digests
    in the database) and when the message reaches the SMTP server."""
    setup_site(workdir)
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_RATE", "2")
    site = start_site()
    at_data: list[tuple[float, int]] = []  # when a message arrived, and the stores the mail thread held
    handle = site.smtp.handler.handle_DATA

    async def watching(server, session, envelope):
        at_data.append((time.time(), len(store_opens.open_on(MAIL_THREAD))))
        return await handle(server, session, envelope)

    site.smtp.handler.handle_DATA = watching  # read by each new SMTP connection
    reader = site.browser()

    def sign_up_behind_digests(email: str) -> None:
        with Store(site.db) as store:  # digests have just taken the next second of the rate
            store.take_rate_slot("smtp", 0.5, time.time())
            slot = store.take_rate_slot("smtp", 0.5, time.time()) + 0.5  # the mail's turn
        mark = len(store_opens.all)
        assert reader.sign_up(email).status_code == 200
        site.settle()
        assert at_data[-1][0] >= slot - 0.05, "the mail waited for its slot"
        used = store_opens.on(MAIL_THREAD, mark)
        assert used, "the mail thread looked the address up in the database"
        waiting = _monotonic(slot - 0.3)  # a moment the mail thread was waiting for its slot
        assert [o.closed_at is not None and o.closed_at < waiting for o in used] == [True] * len(used)

    sign_up_behind_digests("jo@uni.example")
    [mail] = site.mails("jo@uni.example", 1)
    assert mail.message["Subject"].startswith("Confirm")
    token = parse_qs(urlsplit(link_in(mail, "/confirm")).query)["t"][0]
    assert reader.post("/confirm", {"t": token}).status_code == 200
    assert web_subscriber(site.db, "jo@uni.example").active
    sign_up_behind_digests("jo@uni.example")  # subscribed: the manage link this time
    assert site.mails("jo@uni.example", 2)[-1].message["Subject"].startswith("Your link")
    assert [held for _, held in at_data] == [0, 0]


def _monotonic(wall: float) -> float:
    """A time.time() instant on the time.monotonic() clock."""
    return wall - time.time() + time.monotonic()
