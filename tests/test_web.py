"""The self-service web pages (issue 12), against the real app on waitress over loopback, with
a real SMTP server (aiosmtpd) for the mail they send and the real CLI for digests.

1. `web:` in the YAML: validated like the rest, and it needs DIGESTBOT_BASE_URL and _SECRET.
2. Sign-up with double opt-in: the mail, the confirmation, one confirmation an hour, domains.
3. Tokens: forged, altered, expired, for another purpose, or signed with a rotated secret.
4. CSRF on every form; rate limits per client and per address, held in the database;
   answers that tell nothing about who is subscribed; headers and cookies; escaping.
5. Manage: editing, pause and resume, unsubscribe, read-only YAML subscribers, recent digests,
   the manage link in every digest, and the preview over the last 7 days.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers import SOURCES, FeedPaper, db_dump, digestbot, subscriber, write_feed
from test_slack import UNSUB_SECRET, stop_server

from digestbot import web_pages
from digestbot.config import Env, load_config
from digestbot.links import CONFIRM, MANAGE, make_token, manage_url, sign
from digestbot.store import Store, is_postgres
from digestbot.web import WebApp, create_server

NARWHAL = FeedPaper("2403.20001", "Narwhal tusks as sensors", "We study narwhal tusks and sensing.")
QUOKKA = FeedPaper("2403.20002", "Quokka smiles in the wild", "A field study of quokka behaviour.")
OTHER = FeedPaper("2403.20003", "Unrelated compilers", "Register allocation for compilers.")
WEB_YAML = "web:\n  signup: true\n  allow_domains: [uni.example]\n"
FORM_FIELDS = {"frequency": "daily", "time": "08:00", "timezone": "Europe/Berlin", "max_papers": "10"}


@dataclass
class Site:
    """The running app: its URL, how far its clock is ahead of the real one (seconds, so a
    test can move time on), the mail it sent."""

    url: str
    db: Path
    app: WebApp
    smtp: object
    clock: list[float] = field(default_factory=lambda: [0.0])

    def browser(self) -> Reader:
        return Reader(self)

    def mails(self, to: str, count: int, timeout: float = 10.0) -> list:
        """The mails sent to `to`, once there are `count` (the app sends from a thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.smtp.to(to)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.smtp.to(to)

    def settle(self) -> None:
        """Wait until the app's mail thread has sent what it was given."""
        self.app.flask.extensions["digestbot"].mailer.submit(lambda: None).result(10)


class Reader:
    """One browser-like client: its own cookies; reads a form's CSRF token before posting."""

    def __init__(self, site: Site):
        self.site = site
        self.http = requests.Session()

    def get(self, path_or_url: str, **kw) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else self.site.url + path_or_url
        response = self.http.get(url, timeout=10, **kw)
        assert "Traceback" not in response.text
        return response

    def token(self, path: str = "/") -> str:
        page = self.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        return found.group(1)

    def post(self, path: str, data: dict, csrf: bool | str = True, **kw) -> requests.Response:
        data = dict(data)
        if csrf is True:
            data["csrf_token"] = self.token(kw.pop("form_page", "/manage/link"))
        elif isinstance(csrf, str):
            data["csrf_token"] = csrf
        response = self.http.post(self.site.url + path, data=data, timeout=10, **kw)
        assert "Traceback" not in response.text
        return response

    def sign_up(
        self, email: str, keywords: str = "narwhal", headers: dict | None = None
    ) -> requests.Response:
        data = {"email": email, "keywords": keywords, **FORM_FIELDS}
        return self.post("/subscribe", data, headers=headers or {})


def link_in(mail, path: str) -> str:
    text = mail.message.get_body(("plain",)).get_content()
    found = re.search(rf"(http://\S+{re.escape(path)}\?t=\S+)", text)
    assert found, text
    return found.group(1)


def setup_site(workdir, subscribers: str = "", web_yaml: str = WEB_YAML) -> None:
    write_feed(workdir.path / "feed.xml", [NARWHAL, QUOKKA, OTHER])
    workdir.write_config(SOURCES, subscribers or subscriber("alice", "quokka"), extra_yaml=web_yaml)


@pytest.fixture
def start_site(workdir, smtp_server) -> Iterator[Callable[..., Site]]:
    """Starts the app (config written, feed fetched) on waitress; digests and the app's mail
    go to the real SMTP server, with signed links to the app."""
    running = []

    def start(secret: str = UNSUB_SECRET, fetch: bool = True, base_path: str = "") -> Site:
        if fetch and (is_postgres(workdir.db) or not workdir.db.exists()):  # a fresh one on PostgreSQL
            digestbot(workdir, "fetch")
        holder: dict = {}
        config = load_config(workdir.config)
        proxies = config.web.proxies if config.web else 0
        server = create_server(lambda e, s: holder["app"](e, s), "127.0.0.1", 0, proxies=proxies)
        url = f"http://127.0.0.1:{server.effective_port}{base_path}"  # base_path: a proxy's /prefix
        workdir.use_smtp(smtp_server.url)
        workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", url)
        workdir.monkeypatch.setenv("DIGESTBOT_SECRET", secret)
        env = Env.from_environ()
        site = Site(url, workdir.db, None, smtp_server)
        site.app = holder["app"] = WebApp(
            load_config(workdir.config), env, workdir.db, lambda: time.time() + site.clock[0]
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread, site.app))
        return site

    yield start
    for server, thread, app in running:
        stop_server(server, thread)
        app.close()


@pytest.fixture
def site(workdir, start_site) -> Site:
    setup_site(workdir)
    return start_site()


def subscribers(db: Path) -> dict[str, tuple]:
    with Store(db) as store:
        return {
            s.subscriber.id: (
                s.subscriber.origin,
                s.subscriber.email,
                s.subscriber.active,
                s.subscriber.paused,
            )
            for s in store.subscribers(include_inactive=True)
        }


def web_subscriber(db: Path, email: str):
    with Store(db) as store:
        state = store.find_by_email(email, origin="web", include_inactive=True)
    return state.subscriber if state else None


def yaml_takes(workdir, name: str, keyword: str) -> None:
    """The YAML gets a subscriber `name` for `name@uni.example` (beside alice)."""
    workdir.write_config(
        SOURCES,
        subscriber("alice", "quokka")
        + subscriber(name, keyword).replace(f"{name}@example.org", f"{name}@uni.example"),
        extra_yaml=WEB_YAML,
    )


def confirmed(site: Site, reader: Reader, email: str, keywords: str = "narwhal") -> requests.Response:
    """Sign up and confirm through the mail; returns the manage page the confirmation opens."""
    assert reader.sign_up(email, keywords).status_code == 200
    link = link_in(site.mails(email, 1)[-1], "/confirm")
    page = reader.get(link)
    token = re.search(r'name="t" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return reader.post("/confirm", {"t": html.unescape(token)}, csrf=csrf)


# --- 1. configuration ---------------------------------------------------------------------------


def test_the_web_section_is_validated_with_file_line_and_field(workdir):
    workdir.write_config(
        SOURCES,
        subscriber("alice", "quokka"),
        extra_yaml="web:\n  signup: yes please\n  allow_domains: [uni.example, 'not a domain']\n  colour: red\n",
    )
    write_feed(workdir.path / "feed.xml", [NARWHAL])

    out = digestbot(workdir, "check", expect=2).output

    config = str(workdir.config)
    assert f"{config}:3: web.signup: expected true or false" in out
    assert f"{config}:4: web.allow_domains[1]: not a domain name" in out
    assert f"{config}:5: web.colour: unknown key" in out


def test_the_web_pages_need_the_public_url_and_the_secret(workdir):
    setup_site(workdir)
    out = digestbot(workdir, "check", expect=2).output
    assert "DIGESTBOT_BASE_URL" in out and "DIGESTBOT_SECRET" in out
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.uni.example")
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s3cret")
    assert "OK" in digestbot(workdir, "check").output


def test_check_compiles_the_page_templates_of_an_override_folder(workdir):
    setup_site(workdir)
    (workdir.path / "mine" / "web").mkdir(parents=True)
    (workdir.path / "mine" / "web" / "manage.html").write_text(
        "line one\n{% if broken %}\n", encoding="utf-8"
    )
    text = workdir.config.read_text(encoding="utf-8")
    workdir.config.write_text("templates: mine\n" + text, encoding="utf-8")
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.uni.example")
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s3cret")

    out = digestbot(workdir, "check", expect=2).output

    assert f"{workdir.path / 'mine' / 'web' / 'manage.html'}:" in out and "template:" in out


@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["plain", "byte-order-mark"])
def test_page_templates_are_overridable(workdir, start_site, bom):
    """Windows editors start UTF-8 files with a byte order mark: the pages drop it, as the digest
    templates do."""
    setup_site(workdir)
    (workdir.path / "mine" / "web").mkdir(parents=True)
    (workdir.path / "mine" / "web" / "closed.html").write_text(
        bom + "Ask Ada for an account.", encoding="utf-8"
    )
    text = workdir.config.read_text(encoding="utf-8").replace("signup: true", "signup: false")
    workdir.config.write_text("templates: mine\n" + text, encoding="utf-8")
    site = start_site()
    assert site.browser().get("/").content == b"Ask Ada for an account."


def test_without_a_web_section_there_are_no_pages(workdir, start_site):
    setup_site(workdir, web_yaml="")
    site = start_site()
    for path in ("/", "/manage", "/manage/link", "/confirm"):
        assert requests.get(site.url + path, timeout=10).status_code == 404
    assert requests.get(site.url + "/healthz", timeout=10).status_code == 200


def test_with_signup_off_the_form_is_closed_but_manage_links_work(workdir, start_site):
    setup_site(workdir, web_yaml="web:\n  signup: false\n")
    site = start_site()
    reader = site.browser()
    assert "Sign-up on the web is closed" in reader.get("/").text
    assert reader.sign_up("ada@uni.example").status_code == 403
    site.settle()
    assert site.smtp.messages == [] and "web:" not in str(subscribers(site.db))


# --- 2. sign-up and double opt-in -----------------------------------------------------------------


def test_sign_up_mails_a_confirmation_and_only_the_confirmation_subscribes(site):
    reader = site.browser()
    page = reader.sign_up("Ada@Uni.Example", "narwhal, sensing")

    assert page.status_code == 200 and "Check your inbox" in page.text
    [mail] = site.mails("Ada@uni.example", 1)
    assert mail.message["Subject"] == "Confirm your paper digest subscription"
    link = link_in(mail, "/confirm")
    assert web_subscriber(site.db, "ada@uni.example") is None  # nothing before the click

    shown = requests.get(link, timeout=10)  # a mail scanner following the link
    assert shown.status_code == 200 and "Confirm my subscription" in shown.text
    assert web_subscriber(site.db, "ada@uni.example") is None

    token = parse_qs(urlsplit(link).query)["t"][0]
    csrf = reader.token("/manage/link")
    done = reader.post("/confirm", {"t": token}, csrf=csrf)
    assert done.status_code == 200 and done.url.endswith("/manage?welcome=1")
    assert "You are subscribed" in done.text
    sub = web_subscriber(site.db, "ada@uni.example")
    assert sub.id.startswith("web:") and sub.origin == "web" and sub.active and not sub.paused
    assert sub.profile.keywords == ("narwhal", "sensing")
    assert (sub.schedule, sub.timezone, sub.max_papers) == ("daily 08:00", "Europe/Berlin", 10)
    # The form token outlives the sign-in (forms open in other tabs still post), and confirming
    # twice is once (test_web_faults.test_confirming_twice_is_confirming_once).
    again = reader.post("/confirm", {"t": token}, csrf=csrf)
    assert again.status_code == 200 and again.url.endswith("/manage?welcome=1")
    assert web_subscriber(site.db, "ada@uni.example") == sub
    assert len(site.smtp.messages) == 1  # nothing but the confirmation was sent


def test_at_most_one_confirmation_per_address_per_hour(site):
    reader = site.browser()
    for _ in range(4):
        assert "Check your inbox" in reader.sign_up("bea@uni.example").text
    site.settle()
    assert len(site.smtp.to("bea@uni.example")) == 1

    site.clock[0] += 3601
    reader.sign_up("bea@uni.example", "quokka")
    mails = site.mails("bea@uni.example", 2)
    assert len(mails) == 2
    # The newest sign-up replaced the first: the first link no longer confirms anything.
    first, second = (parse_qs(urlsplit(link_in(m, "/confirm")).query)["t"][0] for m in mails)
    assert reader.post("/confirm", {"t": first}).status_code == 400
    assert reader.post("/confirm", {"t": second}).status_code == 200
    assert web_subscriber(site.db, "bea@uni.example").profile.keywords == ("quokka",)


def test_only_allowed_domains_may_sign_up(site):
    reader = site.browser()
    page = reader.sign_up("eve@elsewhere.example")
    assert page.status_code == 400 and "Only addresses at uni.example can subscribe" in page.text
    assert reader.sign_up("cal@cs.uni.example").status_code == 200  # a subdomain is at the domain
    assert len(site.mails("cal@cs.uni.example", 1)) == 1
    assert site.smtp.to("eve@elsewhere.example") == []


@pytest.mark.parametrize(
    "fields, field_name",
    [
        ({"email": "not-an-address"}, "email"),
        ({"keywords": ""}, "keywords"),
        ({"keywords": ", ".join(f"k{i}" for i in range(51))}, "keywords"),
        ({"keywords": "x" * 101}, "keywords"),
        ({"keywords": "*"}, "keywords"),
        ({"likes": "banana"}, "likes"),
        ({"time": "25:00"}, "time"),
        ({"frequency": "hourly"}, "frequency"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"max_papers": "0"}, "max_papers"),
        ({"max_papers": "1e9"}, "max_papers"),
        ({"max_papers": "\u00b2"}, "max_papers"),  # a digit to str.isdigit, not to int()
        # zero-width and direction characters, refused as the YAML and Slack refuse them (ASCII
        # controls are dropped as the form is read)
        ({"keywords": "narwhal, \u202eloop"}, "keywords"),
        ({"exclude": "survey\u200b"}, "exclude"),
        ({"email": "dan\u202e@uni.example"}, "email"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored_or_sent(site, fields, field_name):
    before = db_dump(site.db)
    data = {"email": "dan@uni.example", "keywords": "narwhal", **FORM_FIELDS, **fields}
    page = site.browser().post("/subscribe", data, form_page="/")
    assert page.status_code == 400
    assert f'id="{field_name}-error"' in page.text
    site.settle()
    assert site.smtp.messages == []
    assert [
        line for line in db_dump(site.db) if "web_signups" in line or 'INSERT INTO "subscribers"' in line
    ] == [line for line in before if "web_signups" in line or 'INSERT INTO "subscribers"' in line]


def test_what_readers_type_is_escaped_on_every_page(site):
    hostile = '"><script>alert(1)</script>'
    reader = site.browser()
    page = reader.post("/subscribe", {"email": hostile, "keywords": hostile, **FORM_FIELDS}, form_page="/")
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    manage = confirmed(site, reader, "eli@uni.example", "narwhal")
    assert manage.status_code == 200
    saved = reader.post(
        "/manage",
        {"keywords": "narwhal, <b>bold</b>", "authors": hostile, **FORM_FIELDS},
        form_page="/manage",
    )
    assert saved.status_code == 200, saved.text
    assert "<b>bold</b>" not in saved.text and "&lt;b&gt;bold&lt;/b&gt;" in saved.text
    assert "<script>alert(1)" not in saved.text


# --- 3. tokens -----------------------------------------------------------------------------------


def test_forged_expired_wrong_purpose_and_rotated_tokens_are_refused(workdir, start_site):
    setup_site(workdir)
    site = start_site()
    reader = site.browser()
    confirmed(site, reader, "fay@uni.example")
    sid = web_subscriber(site.db, "fay@uni.example").id
    good = parse_qs(urlsplit(manage_url(site.url, sid, UNSUB_SECRET)).query)["t"][0]
    assert "Manage your digest" in site.browser().get(f"/manage/login?t={good}").text

    def manage_with(token: str) -> int:
        r = site.browser().get(f"/manage/login?t={token}")
        return r.status_code if "Manage your digest" not in r.text else 200

    bad = {
        "forged": sign(sid, "another-secret", MANAGE),
        "altered": good[:-2] + ("AA" if good[-2:] != "AA" else "BB"),
        "other-subscriber-payload": good.replace(
            good.split(".")[0], sign("alice", UNSUB_SECRET, MANAGE).split(".")[0]
        ),
        "confirm-purpose": sign(sid, UNSUB_SECRET, CONFIRM),
        "unsubscribe-token": make_token(sid, UNSUB_SECRET),
        "empty": "",
        "junk": "x" * 5000,
    }
    for name, token in bad.items():
        assert manage_with(token) == 400, name
    # a manage token cannot confirm, nor unsubscribe
    csrf = reader.token("/manage/link")
    assert reader.post("/confirm", {"t": good}, csrf=csrf).status_code == 400
    assert requests.post(f"{site.url}/unsubscribe?t={good}", timeout=10).status_code == 400

    site.clock[0] += 31 * 24 * 3600  # manage links last 30 days
    assert manage_with(good) == 400
    site.clock[0] -= 31 * 24 * 3600
    assert manage_with(good) == 200

    # rotating DIGESTBOT_SECRET invalidates every link and every signed-in session
    signed_in = site.browser()
    signed_in.get(f"/manage/login?t={good}")
    rotated = start_site(secret="rotated-secret")
    assert rotated.browser().get(f"/manage/login?t={good}").status_code == 400
    moved = requests.Session()
    moved.cookies.update(signed_in.http.cookies)
    assert "Email me my manage link" in moved.get(rotated.url + "/manage", timeout=10).text
    old_unsub = make_token(sid, UNSUB_SECRET)
    assert requests.get(f"{rotated.url}/unsubscribe?t={old_unsub}", timeout=10).status_code == 400


def test_a_confirmation_link_expires_after_48_hours(site):
    reader = site.browser()
    reader.sign_up("gus@uni.example")
    token = parse_qs(urlsplit(link_in(site.mails("gus@uni.example", 1)[0], "/confirm")).query)["t"][0]
    site.clock[0] += 48 * 3600 + 60
    assert reader.get(f"/confirm?t={token}").status_code == 400
    assert reader.post("/confirm", {"t": token}).status_code == 400
    assert web_subscriber(site.db, "gus@uni.example") is None


# --- 4. CSRF, rate limits, enumeration, headers ------------------------------------------------------


def test_every_form_needs_its_csrf_token(site):
    reader = site.browser()
    confirmed(site, reader, "hal@uni.example")
    before = db_dump(site.db)
    mails = len(site.smtp.messages)
    stranger = site.browser()
    foreign = stranger.token("/")  # a token from another session is no good either
    for path, data in [
        ("/subscribe", {"email": "ivy@uni.example", "keywords": "narwhal", **FORM_FIELDS}),
        ("/manage/link", {"email": "hal@uni.example"}),
        ("/manage", {"keywords": "quokka", **FORM_FIELDS}),
        ("/manage/pause", {}),
        ("/manage/unsubscribe", {}),
        ("/preview", {"keywords": "narwhal", **FORM_FIELDS}),
    ]:
        for csrf in (False, foreign, "garbage"):
            r = reader.post(path, data, csrf=csrf)
            assert r.status_code == 400 and "did not come from this site" in r.text, (path, csrf)
    site.settle()
    assert db_dump(site.db) == before and len(site.smtp.messages) == mails
    assert web_subscriber(site.db, "hal@uni.example").active


def test_a_form_refused_as_expired_comes_back_filled_with_what_the_reader_typed(site):
    reader = site.browser()
    confirmed(site, reader, "hal@uni.example")
    before, mails = db_dump(site.db), len(site.smtp.messages)
    ours = {"Origin": site.url}
    typed = {"email": "ivy@uni.example", "keywords": "narwhal, <b>bold</b>", **FORM_FIELDS}

    # the manage page left open: its token no longer matches (the reader is still signed in)
    page = reader.post("/manage", {**typed, "keywords": "quokka, axolotl"}, csrf="stale", headers=ours)
    assert page.status_code == 400 and "nothing was saved" in page.text
    assert 'value="quokka, axolotl"' in page.text or ">quokka, axolotl<" in page.text, page.text

    # the sign-up page left open past its session: the cookie is gone, the typed values are not
    newcomer = site.browser()
    newcomer.get("/")
    newcomer.http.cookies.clear()
    page = newcomer.post("/subscribe", typed, csrf="stale", headers=ours)
    assert page.status_code == 400 and "What you typed is below" in page.text
    assert 'value="ivy@uni.example"' in page.text
    assert "narwhal, &lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold</b>" not in page.text
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    # the page's live preview says so too, in the JSON its script reads
    answer = newcomer.post("/preview", typed, csrf="stale", headers={**ours, "Accept": "application/json"})
    assert answer.status_code == 400 and "expired" in answer.json()["errors"]["form"]

    # another site's post is refused without showing its values on our page
    page = site.browser().post("/subscribe", typed, csrf="stale", headers={"Origin": "https://evil.example"})
    assert page.status_code == 400 and "ivy@uni.example" not in page.text
    site.settle()
    assert db_dump(site.db) == before and len(site.smtp.messages) == mails

    # submitted again from the page it got back, the sign-up goes through
    page = newcomer.post("/subscribe", typed, csrf=fresh, headers=ours)
    assert page.status_code == 200, page.text
    assert site.mails("ivy@uni.example", 1)


def test_sign_up_is_rate_limited_per_client_and_the_limit_is_in_the_database(
    workdir, start_site, monkeypatch
):
    setup_site(workdir)
    site = start_site()
    reader = site.browser()
    for i in range(web_pages.LIMITS["signup-ip"][0]):
        assert reader.sign_up(f"u{i}@uni.example").status_code == 200
    assert reader.sign_up("one-more@uni.example").status_code == 429
    # another process (a second app on the same database) sees the same limit
    other = start_site().browser()
    assert other.sign_up("and-another@uni.example").status_code == 429
    site.settle()
    assert site.smtp.to("one-more@uni.example") == [] and site.smtp.to("and-another@uni.example") == []
    site.clock[0] += 3601
    assert reader.sign_up("later@uni.example").status_code == 200


def test_a_department_behind_one_address_can_be_let_sign_up_more_than_ten_an_hour(workdir, start_site):
    # Ten sign-ups an hour per client address: the eleventh colleague behind a campus NAT got
    # "Too many requests" and no mail. `web.signups_per_hour` raises it.
    setup_site(workdir, web_yaml=WEB_YAML + "  signups_per_hour: 12\n")
    reader = start_site().browser()
    for i in range(12):
        assert reader.sign_up(f"colleague{i}@uni.example").status_code == 200
    assert reader.sign_up("one-more@uni.example").status_code == 429


def test_link_requests_and_previews_are_rate_limited_per_client_and_per_address(site, monkeypatch):
    reader = site.browser()
    confirmed(site, reader, "jo@uni.example")
    for _ in range(6):
        site.browser().post("/manage/link", {"email": "jo@uni.example"})
    site.settle()
    assert len(site.smtp.to("jo@uni.example")) == 1 + web_pages.LIMITS["link-email"][0]
    for _ in range(web_pages.LIMITS["link-ip"][0]):
        reader.post("/manage/link", {"email": "x@uni.example"})
    assert reader.post("/manage/link", {"email": "x@uni.example"}).status_code == 429

    site.clock[0] += 3601  # the link limits are over; now the preview's, made small
    monkeypatch.setitem(web_pages.LIMITS, "preview-ip", (5, 600))
    monkeypatch.setitem(web_pages.LIMITS, "preview-email", (2, 600))
    data = {"email": "kim@uni.example", "keywords": "narwhal", **FORM_FIELDS}

    def preview(email: str) -> int:
        return site.browser().post("/preview", {**data, "email": email}, form_page="/").status_code

    assert [preview("kim@uni.example") for _ in range(3)] == [200, 200, 429]  # per address
    assert [preview(""), preview("lou@uni.example"), preview("")] == [200, 200, 429]  # per client


def test_answers_do_not_tell_who_is_subscribed(workdir, start_site):
    setup_site(workdir, subscriber("alice", "quokka").replace("alice@example.org", "alice@uni.example"))
    site = start_site()
    confirmed(site, site.browser(), "kai@uni.example")

    def answers(email: str) -> list[tuple[int, str]]:
        reader = site.browser()
        out = []
        for r in (reader.sign_up(email), reader.post("/manage/link", {"email": email})):
            out.append((r.status_code, r.text.replace(email, "EMAIL")))
        return out

    assert answers("kai@uni.example") == answers("nobody@uni.example") == answers("alice@uni.example")
    site.settle()
    # what each address got: a subscriber their manage link (at most 3 an hour), a stranger one
    # confirmation (the link request sends a stranger nothing)
    assert [m.message["Subject"] for m in site.smtp.to("nobody@uni.example")] == [
        "Confirm your paper digest subscription"
    ]
    yaml_mails = site.smtp.to("alice@uni.example")
    assert {m.message["Subject"] for m in yaml_mails} == {"Your link to manage your paper digest"}
    assert "read-only" in yaml_mails[0].message.get_body(("plain",)).get_content()


def test_security_headers_and_cookie_flags(site):
    reader = site.browser()
    for path in ("/", "/manage/link", "/healthz", "/static/web.js", "/nope"):
        r = reader.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert (
            r.headers["Referrer-Policy"] == "same-origin" and r.headers["X-Content-Type-Options"] == "nosniff"
        )
    page = site.browser().get("/")
    # no inline script, style or event handler: the CSP would block them
    assert "<script>" not in page.text and "<style" not in page.text and " style=" not in page.text
    assert not re.search(r"<[^>]*\son\w+\s*=", page.text, re.IGNORECASE)
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # this test site is plain http; https makes it Secure (below)


def test_over_https_the_cookie_is_secure(workdir):
    setup_site(workdir)
    env = Env(outbox=workdir.outbox, base_url="https://digest.uni.example", secret="s")
    app = WebApp(load_config(workdir.config), env, workdir.db)
    try:
        r = app.flask.test_client().get("/", base_url="https://digest.uni.example")
        assert "; Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    finally:
        app.close()


# --- 5. manage, digests, preview ---------------------------------------------------------------------


def test_the_digest_carries_a_manage_link_and_changes_apply_to_the_next_digest(workdir, site):
    reader = site.browser()
    confirmed(site, reader, "lee@uni.example", "narwhal")
    digestbot(workdir, "send", "--force")
    [digest] = [m for m in site.smtp.to("lee@uni.example") if not m.message["Subject"].startswith("Confirm")]
    text = digest.message.get_body(("plain",)).get_content()
    assert NARWHAL.title in text and QUOKKA.title not in text
    link = link_in(digest, "/manage/login")
    assert "Manage your digest</a>" in digest.message.get_body(("html",)).get_content()

    fresh = site.browser()
    page = fresh.get(link)
    assert page.url.endswith("/manage") and "narwhal" in page.text and "Recent digests" in page.text
    assert NARWHAL.title in page.text  # the digest just sent
    saved = fresh.post(
        "/manage",
        {"keywords": "quokka", "exclude": "compilers", "authors": "", **FORM_FIELDS, "max_papers": "5"},
        form_page="/manage",
    )
    assert "Saved" in saved.text
    sub = web_subscriber(site.db, "lee@uni.example")
    assert (sub.profile.keywords, sub.profile.exclude, sub.max_papers) == (("quokka",), ("compilers",), 5)

    with Store(site.db) as store:  # the next digest should see papers newer than the first one
        store.conn.execute("UPDATE subscribers SET last_seq = 0 WHERE id = ?", (sub.id,))
    digestbot(workdir, "send", "--force", "--subscriber", sub.id)
    last = site.smtp.to("lee@uni.example")[-1].message.get_body(("plain",)).get_content()
    assert QUOKKA.title in last


def test_pause_resume_and_unsubscribe(site):
    reader = site.browser()
    confirmed(site, reader, "max@uni.example")
    assert "paused" in reader.post("/manage/pause", {}, form_page="/manage").text
    assert web_subscriber(site.db, "max@uni.example").paused
    assert "active" in reader.post("/manage/resume", {}, form_page="/manage").text
    page = reader.post("/manage/unsubscribe", {}, form_page="/manage")
    assert "Unsubscribed" in page.text and "Subscribe again" in page.text
    sub = web_subscriber(site.db, "max@uni.example")
    assert not sub.active
    site.clock[0] += 3601  # (one confirmation an hour)
    # signing up again later: a confirmation (not a manage link), then the same subscriber again
    reader.sign_up("max@uni.example", "quokka")
    mail = site.mails("max@uni.example", 2)[-1]
    assert mail.message["Subject"].startswith("Confirm")
    token = parse_qs(urlsplit(link_in(mail, "/confirm")).query)["t"][0]
    reader.post("/confirm", {"t": token})
    again = web_subscriber(site.db, "max@uni.example")
    assert again.id == sub.id and again.active and again.profile.keywords == ("quokka",)


def test_yaml_subscribers_see_their_digest_read_only(workdir, start_site):
    setup_site(workdir, subscriber("alice", "quokka").replace("alice@example.org", "alice@uni.example"))
    site = start_site()
    digestbot(workdir, "send", "--force")  # every email digest carries the link, YAML ones too
    [digest] = site.mails("alice@uni.example", 1)
    reader = site.browser()
    page = reader.get(link_in(digest, "/manage/login"))
    assert (
        "read-only" in page.text and "subscriptions.yaml" in page.text and 'name="keywords"' not in page.text
    )
    before = db_dump(site.db)
    for path in ("/manage", "/manage/pause", "/manage/unsubscribe"):
        assert (
            reader.post(path, {"keywords": "hijack", **FORM_FIELDS}, form_page="/manage").status_code == 403
        )
    assert db_dump(site.db) == before


def test_a_yaml_subscriber_for_the_same_address_takes_over(workdir, site):
    confirmed(site, site.browser(), "ned@uni.example")
    yaml_takes(workdir, "ned", "quokka")
    digestbot(workdir, "sync")
    assert not web_subscriber(site.db, "ned@uni.example").active
    assert subscribers(site.db)["ned"][:3] == ("yaml", "ned@uni.example", True)


def test_the_preview_shows_what_the_profile_would_have_sent_over_7_days(site):
    reader = site.browser()
    data = {"email": "", "keywords": "narwhal, quokka", "exclude": "field study", **FORM_FIELDS}
    r = reader.post("/preview", data, form_page="/", headers={"Accept": "application/json"})
    assert r.status_code == 200
    found = r.json()
    assert found["total"] == 1 and [p["title"] for p in found["papers"]] == [NARWHAL.title]
    assert found["papers"][0]["why"] == ["narwhal"]
    page = reader.post("/preview", data, form_page="/")  # without JavaScript: the whole page
    assert (
        page.status_code == 200 and NARWHAL.title in page.text and ">narwhal, quokka</textarea>" in page.text
    )
    before = db_dump(site.db)
    site.clock[0] += 8 * 24 * 3600  # a week later those papers are older than the preview reaches
    assert (
        reader.post("/preview", data, form_page="/", headers={"Accept": "application/json"}).json()["total"]
        == 0
    )
    assert [x for x in db_dump(site.db) if "rate_events" not in x] == [
        x for x in before if "rate_events" not in x
    ]


def test_behind_a_proxy_each_client_address_has_its_own_limit(workdir, start_site):
    setup_site(workdir, web_yaml=WEB_YAML + "  proxies: 1\n")
    site = start_site()
    reader = site.browser()
    limit = web_pages.LIMITS["signup-ip"][0]
    one = {"X-Forwarded-For": "203.0.113.7"}
    for i in range(limit):
        assert reader.sign_up(f"p{i}@uni.example", headers=one).status_code == 200
    assert reader.sign_up("p-more@uni.example", headers=one).status_code == 429
    assert reader.sign_up("q@uni.example", headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 200


HOSTILE_POSTS = {
    "non-utf8": b"email=\xff\xfe%40uni.example&keywords=\xff",
    "many-fields": b"&".join(b"k%d=v" % i for i in range(3000)),
    "repeated-fields": b"keywords=a&keywords=b&email=a@elsewhere.example&email=b@uni.example",
    "nul-bytes": b"email=a%00@uni.example&keywords=nar%00whal",
    "no-fields": b"",
    "huge-field": b"keywords=" + b"x" * 60_000,
}


@pytest.mark.parametrize("case", list(HOSTILE_POSTS))
@pytest.mark.parametrize("path", ["/subscribe", "/preview", "/manage/link", "/confirm", "/manage"])
def test_hostile_form_posts_get_a_4xx_or_the_form_again_never_a_500(site, path, case):
    reader = site.browser()
    csrf = reader.token("/")
    body = HOSTILE_POSTS[case] + b"&csrf_token=" + csrf.encode()
    r = reader.http.post(
        site.url + path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    assert r.status_code < 500 and "Traceback" not in r.text, (r.status_code, r.text[:300])
    site.settle()
    assert site.smtp.messages == []


def test_a_schema_4_database_gets_the_web_tables_on_open(workdir):
    import sqlite3

    from digestbot import store as store_module

    Store(workdir.db).close()
    with sqlite3.connect(workdir.db) as conn:
        conn.execute("DROP TABLE web_signups")
        conn.execute("DROP TABLE rate_events")
        conn.execute("PRAGMA user_version = 4")
    with Store(workdir.db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION
        assert store.hit("b", 1, 60) and not store.hit("b", 1, 60)


# --- 6. review: the classes of fault found after the merge --------------------------------------


def test_variants_of_one_address_share_its_one_confirmation_an_hour(site):
    """Case, surrounding spaces and plus-tags all reach one mailbox: together they get one
    confirmation an hour, or the form mail-bombs anyone whose provider delivers `+tag` mail."""
    reader = site.browser()
    for email in ("zed@uni.example", "Zed+1@uni.example", " zed+news@UNI.example ", "ZED+x+y@uni.example"):
        assert "Check your inbox" in reader.sign_up(email).text
    site.settle()
    assert len(site.smtp.messages) == 1, [m.rcpt_tos for m in site.smtp.messages]


def test_the_addresses_of_one_ipv6_network_share_a_client_limit(workdir, start_site):
    """One IPv6 host owns its whole /64: rotating the last 64 bits is no new client."""
    setup_site(workdir, web_yaml=WEB_YAML + "  proxies: 1\n")
    reader = start_site().browser()
    limit = web_pages.LIMITS["signup-ip"][0]
    for i in range(limit):
        r = reader.sign_up(f"v{i}@uni.example", headers={"X-Forwarded-For": f"2001:db8:1:2::{i + 1:x}"})
        assert r.status_code == 200
    rotated = {"X-Forwarded-For": "2001:db8:1:2:ffff:ffff:ffff:fffe"}
    assert reader.sign_up("v-more@uni.example", headers=rotated).status_code == 429
    other_net = {"X-Forwarded-For": "2001:db8:1:3::1"}
    assert reader.sign_up("w@uni.example", headers=other_net).status_code == 200


def test_the_address_work_of_sign_up_and_link_requests_is_done_off_the_request(site, monkeypatch):
    """Whether an address is known decides what is looked up, counted, stored and mailed: all of
    that happens in the mail thread, so the answer's timing cannot tell who is subscribed."""
    from digestbot import web_mail

    confirmed(site, site.browser(), "kai@uni.example")
    site.settle()
    threads: list[str] = []
    compose = web_mail.compose

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return compose(*args, **kwargs)

    monkeypatch.setattr(web_mail, "compose", recording)
    reader = site.browser()
    site.clock[0] += 3601
    for email in ("kai@uni.example", "nobody@uni.example"):
        reader.sign_up(email)
        reader.post("/manage/link", {"email": email})
    site.settle()
    assert len(threads) == 3  # kai: two manage links; nobody: one confirmation
    assert all(name.startswith("web-mail") for name in threads), threads
    # and they arrived: kai's confirmation from before and two manage links, nobody's confirmation
    assert len(site.smtp.to("kai@uni.example")) == 3 and len(site.smtp.to("nobody@uni.example")) == 1


def test_a_yaml_subscriber_taking_over_an_address_sends_nothing_it_already_had(workdir, site):
    """The hand-over from a web subscriber to a YAML one (and back) keeps the address's
    watermark: the inbox never gets the same paper twice."""
    confirmed(site, site.browser(), "ned@uni.example", "narwhal")
    digestbot(workdir, "send", "--force")
    assert [m for m in site.smtp.to("ned@uni.example") if NARWHAL.title in m.message.as_string()]
    before = len(site.smtp.to("ned@uni.example"))
    yaml_takes(workdir, "ned", "narwhal")
    digestbot(workdir, "send", "--force")
    assert len(site.smtp.to("ned@uni.example")) == before  # nothing new for that inbox
    later = FeedPaper("2403.20009", "Narwhal pods at dusk", "More narwhal sensing.")
    write_feed(workdir.path / "feed.xml", [NARWHAL, QUOKKA, OTHER, later])
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")  # the YAML subscriber gets the new paper
    before = len(site.smtp.to("ned@uni.example"))
    assert later.title in site.smtp.to("ned@uni.example")[-1].message.get_body(("plain",)).get_content()

    # and back: the YAML entry goes, the reader confirms a new sign-up on the web
    workdir.write_config(SOURCES, subscriber("alice", "quokka"), extra_yaml=WEB_YAML)
    digestbot(workdir, "sync")
    site.clock[0] += 3601
    reader = site.browser()
    reader.sign_up("ned@uni.example", "narwhal")
    mail = site.mails("ned@uni.example", before + 1)[-1]
    assert reader.post("/confirm", {"t": parse_qs(urlsplit(link_in(mail, "/confirm")).query)["t"][0]}).ok
    assert web_subscriber(site.db, "ned@uni.example").active
    count = len(site.smtp.to("ned@uni.example"))
    digestbot(workdir, "send", "--force")
    assert len(site.smtp.to("ned@uni.example")) == count


def test_a_digest_waiting_for_a_retry_at_the_hand_over_goes_to_the_new_owner(workdir, site):
    """The web subscriber's digest failed and waits for a retry when a YAML subscriber takes the
    address over: that digest is cancelled, so its papers are the new owner's to send."""
    confirmed(site, site.browser(), "oli@uni.example", "narwhal")
    site.smtp.refuse_next(1)
    digestbot(
        workdir, "send", "--force", "--subscriber", web_subscriber(site.db, "oli@uni.example").id, expect=1
    )
    assert not [m for m in site.smtp.to("oli@uni.example") if NARWHAL.title in m.message.as_string()]
    yaml_takes(workdir, "oli", "narwhal")
    digestbot(workdir, "send", "--force", "--subscriber", "oli")
    got = [m for m in site.smtp.to("oli@uni.example") if NARWHAL.title in m.message.as_string()]
    assert len(got) == 1, "the paper the failed digest held reaches the inbox once"


def test_a_web_subscriber_cannot_come_back_beside_a_yaml_one_for_its_address(workdir, site):
    """`digestbot run` syncs the YAML only when it changes: a handed-over web subscriber that
    resumed (or a sign-up confirmed after the YAML took the address) would be a second digest
    to one inbox until then. The web one stays off while a YAML one has the address."""
    reader = site.browser()
    confirmed(site, reader, "pat@uni.example")
    yaml_takes(workdir, "pat", "narwhal")
    digestbot(workdir, "sync")
    assert not web_subscriber(site.db, "pat@uni.example").active

    page = reader.post("/manage/resume", {}, form_page="/manage")
    assert page.status_code == 409 and "subscriptions.yaml" in page.text
    assert not web_subscriber(site.db, "pat@uni.example").active
    with Store(site.db) as store:  # however it is saved
        sub = web_subscriber(site.db, "pat@uni.example")
        store.save_web_subscriber(replace(sub, active=True))
    assert not web_subscriber(site.db, "pat@uni.example").active


def test_a_sign_up_confirmed_after_the_yaml_took_the_address_stays_off(workdir, site):
    reader = site.browser()
    assert reader.sign_up("quin@uni.example").status_code == 200
    link = link_in(site.mails("quin@uni.example", 1)[-1], "/confirm")
    yaml_takes(workdir, "quin", "narwhal")
    digestbot(workdir, "sync")
    page = reader.post("/confirm", {"t": parse_qs(urlsplit(link).query)["t"][0]})
    assert page.status_code == 409 and "subscriptions.yaml" in page.text
    assert not web_subscriber(site.db, "quin@uni.example").active
    assert subscribers(site.db)["quin"][2]  # the YAML one is the address's digest


def test_the_pages_mail_keeps_to_the_relays_rate_with_the_digests(workdir, start_site):
    """DIGESTBOT_SMTP_RATE is the relay's limit for every message: a confirmation takes its slot
    among the digests' (the slots every worker shares in the database), not one of its own."""
    setup_site(workdir)
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_RATE", "2")
    site = start_site()
    with Store(site.db) as store:  # digests sent just now hold the next second
        store.take_rate_slot("smtp", 0.5, time.time())
        store.take_rate_slot("smtp", 0.5, time.time())
        held = store.take_rate_slot("smtp", 0.5, time.time()) + 0.5
    site.browser().sign_up("grace@uni.example", "narwhal")
    assert len(site.mails("grace@uni.example", 1)) == 1
    with Store(site.db) as store:
        (next_free,) = store._exec("SELECT next_at FROM rate_slots WHERE name = 'smtp'").fetchone()
    assert next_free == pytest.approx(
        held + 0.5, abs=0.01
    )  # the confirmation took the slot after the digests'
