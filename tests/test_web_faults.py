"""Faults found by attacking the web pages and their mail as a hostile visitor, a mail scanner
or an unlucky subscriber would; each test failed before its fix. Against the real app on
waitress over loopback, with a real SMTP server (aiosmtpd, here offering SMTPUTF8 so that mail
to an address outside ASCII arrives and can be checked).

1. Addresses: a manage link goes to the address the subscription holds, never to the variant a
   visitor typed; an address is kept in one Unicode form (NFC).
2. HTTP: a 405 says which methods the URL takes (Allow), as RFC 9110 requires; a static file
   name the file system refuses (too long) is a 404, not a 500 with a traceback in the log.
3. A base URL with a path (https://uni.example/digest, behind a proxy that passes the prefix on
   or strips it): every link, form, redirect and cookie of the pages stays under it.
4. The digest email: a paper's categories, text from the feed like its title, reach the HTML
   part cleaned and bounded as the title does, and the plain-text part names them too; a
   paper keyed by a feed's guid with a line break in it can be rated from its links.
5. Confirming twice is confirming once: a double click on Confirm, or the mail's link opened
   again, lands on the manage page, not on "this link was used already".
6. The timezone field always shows the zone in force (the operator's `timezone: GMT`, or a
   subscriber's own), never the list's first zone; no Etc/GMT+5 (which is UTC-5) is offered.
7. The pages' mail queue: bounded, and a server stopping while the relay stalls finishes the
   mail in flight, not every mail queued (systemd kills a stop that takes too long).
8. Links an older version signed with a subscriber's former id (an unquoted `0123` was 83)
   still unsubscribe and rate that subscriber, and open its manage page.
9. A page mail the relay turned away (451) does not count against its address's hourly limit:
   asking again sends it.
10. At 320 px (the narrowest phones), in headless Chromium: the pages that show the reader's
   address fit the screen with a long one.
11. An address no mail server can deliver to (an empty or hyphen-edged domain label, dots at
   the ends of the local part or two in a row: typos) is refused on the form, and in the YAML.
12. A confirmation page left open past its form's 2 hours (or in a browser that lost its
   cookie) comes back with a working button, not a dead end that reloading posts again.
13. The zone a reader chose stays chosen when the form comes back (a field to fix): the page's
   script picks the browser's zone on a fresh form only.
14. Signing up again within the hour (a keyword added, from the back button or another tab)
   sends no second mail, and the link of the first now subscribes with the newest profile.
15. The manage page of a web digest the YAML took over says so, and saving it there changes
   nothing and says so (it said "Saved: your next digest uses it": the YAML's digest came);
   a paused or unsubscribed reader's save does not promise a next digest either.
16. `allow_domains` narrowed by the operator holds for what was started before: a sign-up
   mailed earlier does not confirm, an unsubscribed reader does not subscribe again.
21. An address at a domain outside ASCII signs up, in either spelling (letters or `xn--`), and
   `allow_domains` may name such a domain either way; mail to `straße` goes there, not to `strasse`.
22. `signup: false` holds for sign-ups mailed before, as a narrowed `allow_domains` does; both say
   so on the link's page, before a button that could not work.
23. A zone that is no place's (`localtime`, `Factory`, `posix/…`, `right/…`) is refused where it
   is typed: the YAML, the form, `/digest schedule`.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import waitress
from aiosmtpd.controller import Controller
from browser import browser, fits_width, screenshot  # noqa: F401 (browser: a fixture)
from conftest import RecordingHandler, SmtpServer, free_port
from helpers import SOURCES, arxiv_listing, digestbot, subscriber
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_hostile import forbidden_in
from test_ops import StallingServer, stalling_server  # noqa: F401 (a fixture)
from test_slack import UNSUB_SECRET, start_web, stop_server  # noqa: F401 (start_web: a fixture)
from test_web import (  # noqa: F401 (site, start_site: fixtures)
    FORM_FIELDS,
    NARWHAL,
    WEB_YAML,
    Site,
    confirmed,
    link_in,
    setup_site,
    site,
    start_site,
    web_subscriber,
    yaml_takes,
)

from digestbot import web_context
from digestbot.config import Env, load_config
from digestbot.links import feedback_token, make_token, manage_url
from digestbot.models import Paper, Profile, Subscriber
from digestbot.store import DigestItem, Store, now_utc
from digestbot.web import WebApp, create_server
from digestbot.web_forms import read_email


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """The shared recording SMTP server, offering SMTPUTF8 (RFC 6531) like a modern relay."""
    with _utf8_server() as server:
        yield server


@contextlib.contextmanager
def _utf8_server() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10, enable_SMTPUTF8=True
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


@contextlib.contextmanager
def links_app(workdir) -> Iterator[str]:
    """The web app alone (no `web:` pages) on loopback, its URL and secret in the environment,
    as digests need them for their signed links."""
    server = waitress.create_server(lambda e, s: app(e, s), host="127.0.0.1", port=0)
    url = f"http://127.0.0.1:{server.effective_port}"
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", url)
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", UNSUB_SECRET)
    app = WebApp(load_config(workdir.config), Env.from_environ(), workdir.db)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        stop_server(server, thread)
        app.close()


def recipients(running: Site) -> list[str]:
    """Every envelope recipient of every message the app sent, once its mail thread is done."""
    running.settle()
    return [r for m in running.smtp.messages for r in m.rcpt_tos]


# --- 1. addresses -----------------------------------------------------------------------------

KATE = "kate@uni.example"
# Variants a lookup folds onto kate's address: other case, and U+212A KELVIN SIGN, which
# lower() turns into an ASCII "k", but which a mail server takes for another mailbox.
VARIANTS = ["KATE@uni.example", "\u212aate@uni.example"]


@pytest.mark.parametrize("typed", VARIANTS, ids=["case", "kelvin-sign"])
def test_a_manage_link_goes_to_the_subscribers_address_not_the_variant_typed(site, typed):  # noqa: F811
    confirmed(site, site.browser(), KATE)
    assert recipients(site) == [KATE]

    asker = site.browser()  # someone else, on the "email me my link" page
    assert asker.post("/manage/link", {"email": typed}).status_code == 200
    assert recipients(site) == [KATE, KATE]  # the link went to kate's own inbox

    assert asker.sign_up(typed).status_code == 200  # signing up "again" sends the manage link
    assert recipients(site) == [KATE, KATE, KATE]
    assert all("manage" in m.message["Subject"] for m in site.smtp.messages[1:])


def test_an_address_is_kept_in_one_unicode_form(site):  # noqa: F811
    composed, decomposed = "zo\u00eb@uni.example", "zoe\u0308@uni.example"
    assert read_email(decomposed, {}) == composed  # NFC (RFC 6532 3.1)
    assert read_email("\u212aate@uni.example", {}) == "Kate@uni.example"

    confirmed(site, site.browser(), composed)
    site.browser().sign_up(decomposed)  # the same address, written the other way
    assert recipients(site) == [composed, composed]  # its manage link, not a second sign-up
    assert "manage" in site.smtp.messages[1].message["Subject"]
    assert web_subscriber(site.db, composed).email == composed


# --- 2. HTTP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a" * 300,
        "web.css/" + "b" * 300,
        "%00web.css",
        "../" * 40 + "etc/passwd",
        "web.css%2F..%2F..%2Fbase.html",
    ],
    ids=["name-too-long", "dir-too-long", "nul", "traversal", "encoded-traversal"],
)
def test_a_static_file_name_the_file_system_refuses_is_a_404_not_a_500(site, name, caplog):  # noqa: F811
    with caplog.at_level(logging.WARNING, logger="digestbot"):
        response = requests.get(f"{site.url}/static/{name}", timeout=10)
    assert response.status_code == 404 and response.text == "not found"
    assert "Traceback" not in caplog.text and "error handling" not in caplog.text
    assert requests.get(f"{site.url}/static/web.css", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("PUT", "/", {"GET", "HEAD", "OPTIONS"}),
        ("GET", "/subscribe", {"POST", "OPTIONS"}),
        ("DELETE", "/unsubscribe", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("GET", "/slack/commands", {"POST", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_a_method_not_allowed_says_which_are(site, method, path, allowed):  # noqa: F811
    response = requests.request(method, site.url + path, timeout=10)
    assert response.status_code == 405
    assert set(response.headers.get("Allow", "").replace(" ", "").split(",")) == allowed
    assert response.headers["Cache-Control"] == "no-store"  # the security headers still apply


# --- 3. a base URL with a path ----------------------------------------------------------------

_URL_ATTRIBUTE = re.compile(r'\b(?:href|src|action|formaction|data-preview)="([^"]*)"')


def _links(page: requests.Response) -> list[str]:
    """Every URL a page links, loads or posts to, resolved as a browser resolves it."""
    return [urljoin(page.url, html.unescape(u)) for u in _URL_ATTRIBUTE.findall(page.text)]


def _form(page: requests.Response, index: int = 0) -> tuple[str, dict]:
    """Where a page's form posts (resolved) and its hidden fields."""
    form = re.findall(r"<form\b[^>]*>.*?</form>", page.text, re.S)[index]
    action = urljoin(page.url, html.unescape(re.search(r'action="([^"]*)"', form).group(1)))
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    return action, {k: html.unescape(v) for k, v in hidden}


def test_under_a_base_url_with_a_path_every_link_form_and_redirect_keeps_it(workdir, start_site):  # noqa: F811
    setup_site(workdir)
    mounted = start_site(base_path="/digest")  # as a proxy passing /digest/... on
    host = "{0.scheme}://{0.netloc}".format(urlsplit(mounted.url))
    reader = mounted.browser()

    def under_base(page: requests.Response) -> None:
        assert page.status_code == 200, (page.url, page.status_code)
        ours = [u for u in _links(page) if u.startswith(host)]
        assert ours and all(u.startswith(mounted.url + "/") for u in ours), (page.url, ours)
        css = [u for u in ours if u.endswith(".css")]
        assert css and reader.get(css[0]).headers["Content-Type"].startswith("text/css")

    signup = reader.get("/")
    under_base(signup)
    action, hidden = _form(signup)
    assert (
        reader.http.post(
            action,
            data={**hidden, "email": "ada@uni.example", "keywords": "narwhal", **FORM_FIELDS},
            timeout=10,
        ).status_code
        == 200
    )
    link = link_in(mounted.mails("ada@uni.example", 1)[0], "/confirm")
    assert link.startswith(mounted.url + "/confirm?")
    confirm = reader.get(link)
    under_base(confirm)
    action, hidden = _form(confirm)
    manage = reader.http.post(action, data=hidden, timeout=10)  # the redirect is followed
    assert manage.url == mounted.url + "/manage?welcome=1" and "You are subscribed" in manage.text
    under_base(manage)
    assert {c.path for c in reader.http.cookies} == {"/digest"}  # not sent to the host's other apps

    sid = web_subscriber(mounted.db, "ada@uni.example").id
    unsubscribe = reader.get(f"/unsubscribe?t={make_token(sid, UNSUB_SECRET)}")
    under_base(unsubscribe)
    action, hidden = _form(unsubscribe)
    assert "Unsubscribed" in reader.http.post(action, data=hidden, timeout=10).text

    stripped = reader.get(host + "/manage/link")  # as a proxy that strips the prefix
    under_base(stripped)


# --- 4. the digest email ----------------------------------------------------------------------

HOSTILE_CATEGORIES = (
    "<category>cs.RO&#x202E;(gninrael tobor)</category>"  # RIGHT-TO-LEFT OVERRIDE
    "<category>cs.AI&#x200B;&#x2028;x</category>"  # ZERO WIDTH SPACE, LINE SEPARATOR
    "<category>" + "cs.LONG " * 2000 + "</category>"
)


def test_a_papers_categories_reach_the_html_part_cleaned_and_bounded(workdir, smtp_server):
    feed = arxiv_listing([NARWHAL]).replace("<category>cs.LG</category>", HOSTILE_CATEGORIES)
    (workdir.path / "feed.xml").write_text(feed, encoding="utf-8")
    workdir.write_config(SOURCES, subscriber("alice", "narwhal"))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.to("alice@example.org")
    html_part = mail.message.get_body(("html",)).get_content()
    meta = re.search(r'<p class="meta"[^>]*>(.*?)</p>', html_part, re.S).group(1)
    assert not forbidden_in(meta.replace("\n", " ")), forbidden_in(meta)  # the template's own lines
    assert "cs.RO (gninrael tobor)" in meta and "cs.AI x" in meta
    assert len(meta) < 1000  # a category is a label: at most a line of it is shown
    # The plain-text part says the same: the categories too, not only "Matched: narwhal".
    text_part = mail.message.get_body(("plain",)).get_content()
    [matched] = [line for line in text_part.splitlines() if "Matched:" in line]
    assert "cs.RO (gninrael tobor), cs.AI x, cs.LONG" in matched and not forbidden_in(matched)


BLOG = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Lab blog</title><link>https://blog.example/</link>
<description>Posts</description>
<item><title>Narwhal tusks as sensors</title><link>https://blog.example/narwhal</link>
<guid isPermaLink="false">lab-post
42</guid><description>We study narwhal tusks and sensing.</description></item>
</channel></rss>
"""


def test_a_paper_whose_key_holds_a_line_break_can_be_rated_from_its_links(workdir, smtp_server):
    (workdir.path / "blog.xml").write_text(BLOG, encoding="utf-8")
    workdir.write_config("- name: blog\n  type: rss\n  url: blog.xml\n", subscriber("alice", "narwhal"))
    workdir.use_smtp(smtp_server.url)
    with links_app(workdir):
        digestbot(workdir, "run", "--once")
        [mail] = smtp_server.to("alice@example.org")
        text_part = mail.message.get_body(("plain",)).get_content()
        more = re.search(r"More like this: (\S+)", text_part).group(1)

        page = requests.get(more, timeout=10)
        assert page.status_code == 200 and "Narwhal tusks as sensors" in page.text
        action, hidden = _form(page)
        done = requests.post(action, data={**hidden, "vote": "up"}, timeout=10)
        assert done.status_code == 200 and "Noted" in done.text
    with Store(workdir.db) as store:
        assert store.feedback(["alice"]) == {
            "alice": {"guid:blog:lab-post 42": 1}
        }  # a bare guid, keyed within its source


# --- 5. confirming twice ----------------------------------------------------------------------


def test_confirming_twice_is_confirming_once(site):  # noqa: F811
    reader = site.browser()
    assert reader.sign_up("dan@uni.example").status_code == 200
    link = link_in(site.mails("dan@uni.example", 1)[0], "/confirm")
    action, hidden = _form(reader.get(link))
    before = requests.Session()  # the browser as it was at the first click (a double click
    before.cookies.update(reader.http.cookies)  # sends the same form before the answer comes)

    first = reader.http.post(action, data=hidden, timeout=10)
    assert first.url.endswith("/manage?welcome=1") and "You are subscribed" in first.text
    again = before.post(action, data=hidden, timeout=10)
    assert again.status_code == 200 and again.url.endswith("/manage?welcome=1"), again.text[:300]
    assert "You are subscribed" in again.text and "dan@uni.example" in again.text

    sub = web_subscriber(site.db, "dan@uni.example")
    unsubscribed = reader.post("/manage/unsubscribe", {}, form_page="/manage")
    assert "Unsubscribed" in unsubscribed.text
    later = site.browser()  # the mail's link opened again the next day, in another browser
    site.clock[0] += 86400
    action, hidden = _form(later.get(link))
    page = later.http.post(action, data=hidden, timeout=10)
    assert page.status_code == 200 and "unsubscribed" in page.text  # shown, and changed nothing
    assert "You are subscribed" not in page.text
    assert web_subscriber(site.db, "dan@uni.example") == replace(sub, active=False)
    assert len(site.smtp.messages) == 1  # the one confirmation: nothing else was sent


# --- 6. the timezone field ---------------------------------------------------------------------


def _zone_field(page: requests.Response) -> tuple[list[str], list[str]]:
    """The timezone select's options, and those marked selected (a browser shows the first
    option when none is)."""
    select = re.search(r'<select id="timezone".*?</select>', page.text, re.S).group(0)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select)
    return options, re.findall(r"<option[^>]*\bselected\b[^>]*>([^<]*)</option>", select)


def test_the_timezone_field_shows_the_zone_in_force(workdir, start_site):  # noqa: F811
    setup_site(workdir, web_yaml=WEB_YAML + "defaults:\n  timezone: GMT\n")  # IANA, and no slash
    running = start_site()
    reader = running.browser()
    options, selected = _zone_field(reader.get("/"))
    assert selected == ["GMT"]  # not Africa/Abidjan, the first option
    assert "Europe/Berlin" in options and not [z for z in options if re.match(r"Etc/GMT[+-]\d", z)]

    confirmed(running, reader, "eve@uni.example")  # with FORM_FIELDS' Europe/Berlin
    with Store(running.db) as store:
        sub = web_subscriber(running.db, "eve@uni.example")
        store.save_web_subscriber(replace(sub, timezone="Etc/GMT+5"))  # as an older form offered
    page = reader.get("/manage")
    options, selected = _zone_field(page)
    assert selected == ["Etc/GMT+5"]
    action, hidden = _form(page)  # saving the form as shown keeps the subscriber's zone
    fields = dict(re.findall(r'<input id="(keywords|max_papers)" name="\1"[^>]*value="([^"]*)"', page.text))
    reader.http.post(
        action,
        data={**hidden, **FORM_FIELDS, **fields, "keywords": "narwhal", "timezone": selected[0]},
        timeout=10,
    )
    assert web_subscriber(running.db, "eve@uni.example").timezone == "Etc/GMT+5"


# --- 7. the mail queue ------------------------------------------------------------------------


def _stalled_relay(running: Site, server: StallingServer) -> None:
    """The app's mail goes to a relay that accepts the connection and never answers (a firewall
    that drops port 25 looks the same): each mail waits out the SMTP timeout."""
    c = running.app.flask.extensions["digestbot"]
    c.env = replace(c.env, smtp_url=f"smtp://127.0.0.1:{server.port}", smtp_timeout=5.0)


def _sign_ups(running: Site, n: int) -> None:
    reader = running.browser()
    for i in range(n):
        assert "Check your inbox" in reader.sign_up(f"reader{i}@uni.example").text


def test_a_stopping_server_sends_the_mail_in_flight_not_every_mail_queued(
    site,  # noqa: F811
    stalling_server,  # noqa: F811
    monkeypatch,
    caplog,
):
    monkeypatch.setattr(web_context, "MAIL_DRAIN_SECONDS", 0.5)
    _stalled_relay(site, stalling_server)
    _sign_ups(site, 6)

    with caplog.at_level(logging.WARNING, logger="digestbot"):
        site.app.close()

    assert stalling_server.connections == 1  # the mail in flight; the five queued were not tried
    assert "stopping: 5 web mail(s) not sent" in caplog.text


def test_the_mail_queue_is_bounded(site, stalling_server, monkeypatch, caplog):  # noqa: F811 (fixtures)
    monkeypatch.setattr(web_context, "MAIL_QUEUE", 3)
    monkeypatch.setattr(web_context, "MAIL_DRAIN_SECONDS", 0.0)
    _stalled_relay(site, stalling_server)
    with caplog.at_level(logging.WARNING, logger="digestbot"):
        _sign_ups(site, 6)  # the answers are the same page, queued or not

    assert caplog.text.count("web mail queue is full (3 waiting): not sent") == 3
    site.app.close()


# --- 8. links signed with a former id -------------------------------------------------------


def test_links_signed_with_a_subscribers_former_id_still_work(workdir):
    """`id: 0123` was subscriber 83 to an older digestbot, which signed its digests' links with
    83; the store renamed the subscriber. Those links must still unsubscribe and rate it: they
    answered "Unsubscribed" and changed nothing."""
    (workdir.path / "feed.xml").write_text(arxiv_listing([]), encoding="utf-8")
    workdir.write_config(SOURCES, "- id: 0123\n  email: a@example.org\n  keywords: [robots]\n")
    with Store(workdir.db) as store:  # what the older digestbot stored and sent
        store.sync_subscribers([Subscriber("83", Profile(("robots",)), email="a@example.org")])
        store.add_papers([Paper(key="arxiv:2403.00002", arxiv_id="2403.00002", title="Robots")], "feed")
        [paper] = store.papers_after(0)
        store.create_digest(
            "83", [DigestItem(paper, 0, ("robots",), ())], 1, paper.rev, now_utc(), "<m@x>", "email", "a"
        )
    digestbot(workdir, "sync")  # 83 becomes 0123
    with links_app(workdir) as url:
        rated = requests.post(
            f"{url}/feedback",
            data={"t": feedback_token("83", paper.key, UNSUB_SECRET), "vote": "up"},
            timeout=10,
        )
        unsubscribed = requests.post(f"{url}/unsubscribe?t={make_token('83', UNSUB_SECRET)}", timeout=10)

    assert rated.status_code == 200 and "Noted" in rated.text, rated.text
    assert unsubscribed.status_code == 200
    with Store(workdir.db) as store:
        assert store.subscriber("83") is None
        assert store.subscriber("0123").subscriber.paused
        assert store.feedback(["0123"]) == {"0123": {paper.key: 1}}


# --- 9. a mail the relay turned away ----------------------------------------------------------


def test_a_mail_the_relay_turned_away_does_not_use_up_the_addresss_hourly_mail(backend, workdir, site):  # noqa: F811
    """The relay refused the confirmation (451, try again later): nothing reached the reader,
    who asks again a minute later. That mail must go; it was refused for an hour, as if the
    first one had arrived. The same for a manage link."""
    reader = site.browser()
    site.smtp.refuse_next(1)
    assert "Check your inbox" in reader.sign_up("ruth@uni.example").text
    site.settle()
    assert site.smtp.handler.refused == 1 and site.smtp.to("ruth@uni.example") == []

    assert "Check your inbox" in reader.sign_up("ruth@uni.example").text
    [mail] = site.mails("ruth@uni.example", 1)
    assert mail.message["Subject"].startswith("Confirm")
    assert reader.post("/confirm", {"t": parse_qs(urlsplit(link_in(mail, "/confirm")).query)["t"][0]}).ok
    assert web_subscriber(site.db, "ruth@uni.example").active
    assert "Check your inbox" in reader.sign_up("ruth@uni.example").text  # delivered ones still count
    site.settle()
    assert len(site.smtp.to("ruth@uni.example")) == 2  # the one confirmation, and a manage link

    for _ in range(2):  # the rest of the hour's three manage links, one of them turned away
        site.smtp.refuse_next(1)
        reader.post("/manage/link", {"email": "ruth@uni.example"})
        site.settle()
        reader.post("/manage/link", {"email": "ruth@uni.example"})
        site.settle()
    assert site.smtp.handler.refused == 3
    links = [m for m in site.smtp.to("ruth@uni.example") if "manage" in m.message["Subject"]]
    assert len(links) == 3  # three delivered: the hour's limit counts what arrived
    reader.post("/manage/link", {"email": "ruth@uni.example"})
    site.settle()
    assert len(site.smtp.to("ruth@uni.example")) == 4


# --- 10. a phone 320 px wide ---------------------------------------------------------------------

LONG_ADDRESS = "maximilian.mustermann-schmidt@informatik.uni.example"  # 52 characters, no space


def test_the_pages_that_show_the_readers_address_fit_a_320_px_screen(site, browser):  # noqa: F811
    driver = browser()
    driver.get(site.url + "/")
    driver.find_element(By.ID, "email").send_keys(LONG_ADDRESS)
    driver.find_element(By.ID, "keywords").send_keys("narwhal")
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]:not([formaction])").click()
    WebDriverWait(driver, 10).until(
        lambda d: "Check your inbox" in d.title and page != d.find_element(By.TAG_NAME, "html")
    )
    assert LONG_ADDRESS in driver.find_element(By.TAG_NAME, "main").text
    screenshot(driver, "check-inbox-long-address", 320)
    assert fits_width(driver, 320)

    confirmed(site, site.browser(), LONG_ADDRESS)
    sid = web_subscriber(site.db, LONG_ADDRESS).id
    driver.get(manage_url(site.url, sid, UNSUB_SECRET))
    WebDriverWait(driver, 10).until(lambda d: "Manage your digest" in d.title)
    assert LONG_ADDRESS in driver.find_element(By.TAG_NAME, "main").text
    screenshot(driver, "manage-long-address", 320)
    assert fits_width(driver, 320)


# --- 11. addresses no mail server takes ----------------------------------------------------------

UNDELIVERABLE = [
    "ada@.uni.example",  # an empty domain label
    "ada@cs..uni.example",
    "ada@-cs.uni.example",  # a label may not start or end with a hyphen
    "ada@cs-.uni.example",
    ".ada@uni.example",  # nor the local part with a dot, end with one, or hold two in a row
    "ada.@uni.example",
    "ada..lovelace@uni.example",
]


@pytest.mark.parametrize("typed", UNDELIVERABLE)
def test_an_address_no_mail_server_takes_is_refused_on_the_form(site, typed):  # noqa: F811
    page = site.browser().post(
        "/subscribe", {"email": typed, "keywords": "narwhal", **FORM_FIELDS}, form_page="/"
    )
    assert page.status_code == 400 and 'id="email-error"' in page.text, page.text[-600:]
    assert "Check your inbox" not in page.text
    site.settle()
    assert site.smtp.messages == []
    with Store(site.db) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM web_signups").fetchone()[0] == 0


@pytest.mark.parametrize("typed", UNDELIVERABLE)
def test_an_address_no_mail_server_takes_is_a_problem_in_the_yaml(workdir, typed):
    (workdir.path / "feed.xml").write_text(arxiv_listing([]), encoding="utf-8")
    workdir.write_config(SOURCES, subscriber("alice", "narwhal").replace("alice@example.org", typed))
    out = digestbot(workdir, "check", expect=2).output
    assert f"subscribers[0].email: not an email address: {typed!r}" in out


@pytest.mark.parametrize(
    "typed",
    ["ada.lovelace@cs.uni.example", "ada-l@cs-x.uni.example", "ada+news@uni.example", "a@uni.example"],
)
def test_addresses_of_the_usual_forms_are_still_taken(site, typed):  # noqa: F811
    assert "Check your inbox" in site.browser().sign_up(typed).text
    assert len(site.mails(typed, 1)) == 1


def test_a_manage_link_signed_with_a_subscribers_former_id_opens_its_page(workdir, start_site):  # noqa: F811
    """The digests the older digestbot sent to subscriber 83 carry manage links signed with 83:
    they sent the reader to "Email me my manage link", as if signed in as nobody."""
    setup_site(workdir, "- id: 0123\n  email: ida@uni.example\n  keywords: [narwhal]\n")
    with Store(workdir.db) as store:  # what the older digestbot stored
        store.sync_subscribers([Subscriber("83", Profile(("narwhal",)), email="ida@uni.example")])
    digestbot(workdir, "sync")  # 83 becomes 0123
    running = start_site()
    page = running.browser().get(manage_url(running.url, "83", UNSUB_SECRET))
    assert page.status_code == 200 and page.url.endswith("/manage"), page.url
    assert "Manage your digest" in page.text and "ida@uni.example" in page.text
    assert "read-only" in page.text and "narwhal" in page.text


# --- 12. a confirmation page left open --------------------------------------------------------


def test_a_confirm_page_left_open_too_long_comes_back_with_a_working_button(site):  # noqa: F811
    reader = site.browser()
    assert reader.sign_up("una@uni.example").status_code == 200
    link = link_in(site.mails("una@uni.example", 1)[0], "/confirm")
    action, hidden = _form(reader.get(link))
    reader.http.cookies.clear()  # the session's form token is gone (2 hours, a browser restarted)

    page = reader.http.post(action, data=hidden, headers={"Origin": site.url}, timeout=10)
    assert page.status_code == 400 and web_subscriber(site.db, "una@uni.example") is None
    assert "Confirm my subscription" in page.text and "expired" in page.text, page.text[-500:]
    action, hidden = _form(page)  # its button, as the reader presses it again
    done = reader.http.post(action, data=hidden, timeout=10)
    assert done.url.endswith("/manage?welcome=1") and "You are subscribed" in done.text
    assert web_subscriber(site.db, "una@uni.example").active

    stranger = site.browser()  # another site's post of a link's token is still refused plainly
    page = stranger.http.post(action, data=hidden, headers={"Origin": "https://evil.example"}, timeout=10)
    assert page.status_code == 400 and "Confirm my subscription" not in page.text


# --- 13. the zone a reader chose --------------------------------------------------------------


def test_the_zone_a_reader_chose_stays_when_the_form_comes_back(site, browser):  # noqa: F811
    """A reader in Tokyo wants digests on UTC (the operator's default zone) and chooses it; the
    form comes back for a keyword to fix, and its script put Asia/Tokyo back in the field,
    which the reader's next press of Subscribe stored."""
    driver = browser(timezone="Asia/Tokyo")
    driver.get(site.url + "/")
    zone = Select(driver.find_element(By.ID, "timezone"))
    assert zone.first_selected_option.text == "Asia/Tokyo"  # a fresh form: the browser's zone
    zone.select_by_visible_text("UTC")
    driver.find_element(By.ID, "email").send_keys("vic@uni.example")
    driver.find_element(By.ID, "keywords").send_keys("*")  # a term that can match nothing
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]:not([formaction])").click()
    WebDriverWait(driver, 10).until(lambda d: page != d.find_element(By.TAG_NAME, "html"))
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "keywords-error"))
    assert Select(driver.find_element(By.ID, "timezone")).first_selected_option.text == "UTC"

    keywords = driver.find_element(By.ID, "keywords")
    keywords.clear()
    keywords.send_keys("narwhal")
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]:not([formaction])").click()
    WebDriverWait(driver, 10).until(lambda d: "Check your inbox" in d.title)
    mail = site.mails("vic@uni.example", 1)[0]
    done = site.browser()
    assert done.post("/confirm", {"t": parse_qs(urlsplit(link_in(mail, "/confirm")).query)["t"][0]}).ok
    assert web_subscriber(site.db, "vic@uni.example").timezone == "UTC"


# --- 14. signing up again within the hour ---------------------------------------------------------


def test_a_sign_up_corrected_within_the_hour_is_what_the_first_mails_link_confirms(backend, workdir, site):  # noqa: F811
    """The reader added a keyword and pressed Subscribe again: the page said "Check your
    inbox" and what they typed the second time was dropped; the first mail's link subscribed
    them with the profile they had corrected."""
    first, second = site.browser(), site.browser()  # two tabs (or the back button)
    assert "Check your inbox" in first.sign_up("wyn@uni.example", "narwhal").text
    assert "Check your inbox" in second.sign_up("Wyn@uni.example", "narwhal, quokka").text
    site.settle()
    [mail] = site.smtp.to("wyn@uni.example")  # still one confirmation an hour
    token = parse_qs(urlsplit(link_in(mail, "/confirm")).query)["t"][0]
    assert first.post("/confirm", {"t": token}).ok
    assert web_subscriber(site.db, "wyn@uni.example").profile.keywords == ("narwhal", "quokka")

    # once confirmed, a sign-up changes nothing (it mails the manage link): the manage page does
    assert "Check your inbox" in second.sign_up("wyn@uni.example", "walrus").text
    site.settle()
    assert web_subscriber(site.db, "wyn@uni.example").profile.keywords == ("narwhal", "quokka")
    assert first.post("/confirm", {"t": token}).ok  # the link opened again: confirmed once
    assert web_subscriber(site.db, "wyn@uni.example").profile.keywords == ("narwhal", "quokka")


# --- 15. a web digest the YAML took over ------------------------------------------------------


def test_the_manage_page_of_a_digest_the_yaml_took_over_says_so_and_saves_nothing(workdir, site):  # noqa: F811
    reader = site.browser()
    confirmed(site, reader, "xia@uni.example", "narwhal")
    yaml_takes(workdir, "xia", "quokka")
    digestbot(workdir, "sync")
    before = web_subscriber(site.db, "xia@uni.example")
    assert not before.active

    page = reader.get("/manage")  # still signed in, or from a web digest's older manage link
    assert page.status_code == 200 and "subscriptions.yaml" in page.text, page.text[-1500:]
    saved = reader.post("/manage", {"keywords": "walrus", **FORM_FIELDS}, form_page="/manage")
    assert "your next digest uses it" not in saved.text
    assert saved.status_code == 409 and "subscriptions.yaml" in saved.text
    assert web_subscriber(site.db, "xia@uni.example") == before


def test_a_save_while_paused_or_unsubscribed_promises_no_next_digest(site):  # noqa: F811
    reader = site.browser()
    confirmed(site, reader, "yan@uni.example", "narwhal")
    reader.post("/manage/pause", {}, form_page="/manage")
    saved = reader.post("/manage", {"keywords": "quokka", **FORM_FIELDS}, form_page="/manage")
    assert "Saved: your next digest after you resume uses it." in saved.text
    reader.post("/manage/unsubscribe", {}, form_page="/manage")
    saved = reader.post("/manage", {"keywords": "walrus", **FORM_FIELDS}, form_page="/manage")
    assert "your next digest uses it" not in saved.text and "You are unsubscribed" in saved.text
    assert web_subscriber(site.db, "yan@uni.example").profile.keywords == ("walrus",)


# --- 16. allow_domains narrowed -------------------------------------------------------------------


def test_a_narrowed_allow_domains_holds_for_sign_ups_and_readers_from_before(backend, workdir, start_site):  # noqa: F811
    setup_site(workdir, web_yaml="web:\n  signup: true\n  allow_domains: [uni.example, old.example]\n")
    first = start_site()
    leaver, late = first.browser(), first.browser()
    confirmed(first, leaver, "zia@old.example")
    leaver.post("/manage/unsubscribe", {}, form_page="/manage")
    assert late.sign_up("zeb@old.example").status_code == 200
    link = link_in(first.mails("zeb@old.example", 1)[0], "/confirm")
    sid = web_subscriber(first.db, "zia@old.example").id

    setup_site(workdir)  # the operator keeps uni.example only, and restarts the server
    running = start_site(fetch=False)
    late = running.browser()
    for page in (
        late.get(link.replace(first.url, running.url)),  # says so at once: its button could not work
        late.post("/confirm", {"t": parse_qs(urlsplit(link).query)["t"][0]}, form_page="/manage/link"),
    ):
        assert page.status_code == 403 and "Only addresses at uni.example" in page.text, page.text[-400:]
    assert web_subscriber(running.db, "zeb@old.example") is None

    leaver = running.browser()
    leaver.get(manage_url(running.url, sid, UNSUB_SECRET))
    page = leaver.post("/manage/resume", {}, form_page="/manage")
    assert page.status_code == 403 and "Only addresses at uni.example" in page.text
    assert not web_subscriber(running.db, "zia@old.example").active


# --- 17. a YAML digest the operator removed -------------------------------------------------------


def test_the_manage_page_of_a_yaml_digest_removed_from_the_yaml_says_it_is_off(workdir, start_site):  # noqa: F811
    setup_site(workdir, subscriber("alice", "quokka").replace("alice@example.org", "alice@uni.example"))
    running = start_site()
    digestbot(workdir, "send", "--force")
    link = link_in(running.mails("alice@uni.example", 1)[0], "/manage/login")
    workdir.write_config(SOURCES, subscriber("bob", "quokka"), extra_yaml=WEB_YAML)
    digestbot(workdir, "sync")  # the operator took alice out

    page = running.browser().get(link)
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text))
    assert page.status_code == 200 and "unsubscribed" in text
    assert "is off" in text and "no digests come" in text, text[-1200:]
    assert "Unsubscribe link at the foot of each digest stops it" not in text
    assert "or subscribe here" in text  # how to get one again: sign up on the page


# --- 18. errors tied to their fields ---------------------------------------------------------------

_CONTROL = re.compile(r"<(?:input|select|textarea)\b[^>]*\bid=\"([a-z_]+)\"[^>]*>")


@pytest.mark.parametrize("path", ["/subscribe", "/manage"])
def test_every_fields_error_is_tied_to_its_field(site, path):  # noqa: F811
    reader = site.browser()
    if path == "/manage":
        confirmed(site, reader, "zoe@uni.example")
    bad = {  # every field wrong at once (a select's value from a stale or altered page)
        "email": "not-an-address",
        "keywords": "*",
        "exclude": "survey\u200b",
        "authors": "x" * 301,
        "likes": "banana",
        "frequency": "hourly",
        "timezone": "Mars/Olympus",
        "max_papers": "0",
    }
    for fields in (bad, {**bad, "frequency": "daily", "time": "25:00"}):
        page = reader.post(path, fields, form_page="/" if path == "/subscribe" else "/manage")
        assert page.status_code == 400
        errors = set(re.findall(r'<p class="error" id="([a-z_]+)-error">', page.text))
        wanted = set(fields) - {"email"} - ({"frequency"} if "time" in fields else set())
        assert errors >= wanted | ({"email"} if path == "/subscribe" else set()), errors
        for tag in _CONTROL.finditer(page.text):
            name = tag.group(1)
            if name in errors:
                assert 'aria-invalid="true"' in tag.group(0), tag.group(0)
                described = re.search(r'aria-describedby="([^"]*)"', tag.group(0))
                assert described and f"{name}-error" in described.group(1).split(), tag.group(0)


# --- 19. a proxy that sends its own Host -----------------------------------------------------------


def test_an_expired_form_comes_back_filled_behind_a_proxy_that_sends_its_own_host(site):  # noqa: F811
    """nginx without `proxy_set_header Host $host` sends the upstream's address as the Host: the
    page's own post (Origin: the public URL, DIGESTBOT_BASE_URL) was taken for another site's,
    and what the reader typed was thrown away."""
    reader = site.browser()
    reader.get("/")
    reader.http.cookies.clear()
    typed = {"email": "abe@uni.example", "keywords": "narwhal, walrus", **FORM_FIELDS}
    proxied = {"Origin": site.url, "Host": "127.0.0.1:8080"}
    page = reader.post("/subscribe", typed, csrf="stale", headers=proxied)
    assert page.status_code == 400 and "What you typed is below" in page.text, page.text[-400:]
    assert 'value="abe@uni.example"' in page.text and "narwhal, walrus" in page.text

    foreign = {"Origin": "http://127.0.0.1:8080", "Host": "127.0.0.1:8080"}  # not the public URL
    page = site.browser().post("/subscribe", typed, csrf="stale", headers=foreign)
    assert page.status_code == 400 and "abe@uni.example" not in page.text


@contextlib.contextmanager
def _behind_https_proxy(workdir, smtp, base_url: str) -> Iterator[str]:
    """The app for https://digest.uni.example behind a proxy (`proxies: 1`) on loopback; yields
    its loopback URL."""
    setup_site(workdir, web_yaml=WEB_YAML + "  proxies: 1\n")
    digestbot(workdir, "fetch")
    workdir.use_smtp(smtp.url)
    env = replace(Env.from_environ(), base_url=base_url, secret=UNSUB_SECRET)
    app = WebApp(load_config(workdir.config), env, workdir.db)
    server = create_server(app, "127.0.0.1", 0, proxies=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop_server(server, thread)
        app.close()


@pytest.mark.parametrize(
    "base_url",
    ["https://digest.uni.example", "https://Digest.Uni.Example:443"],
    ids=["plain", "port-and-case"],
)
def test_over_https_forms_work_behind_a_proxy_that_sends_its_own_host(workdir, smtp_server, base_url):
    """What the browser at https://digest.uni.example sends, as nginx without `proxy_set_header
    Host $host` passes it on: every sign-up was refused as an expired form (Flask-WTF compared
    the Referer with https://127.0.0.1:8080/), and came back so again at each try."""
    with _behind_https_proxy(workdir, smtp_server, base_url) as url:
        proxy = {"Host": "127.0.0.1:8080", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
        page = requests.get(url + "/", headers=proxy, timeout=10)
        cookie = page.headers["Set-Cookie"].split(";")[0]  # Secure: sent back by hand over loopback
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        browser_said = {"Origin": "https://digest.uni.example", "Referer": "https://digest.uni.example/"}
        posted = requests.post(
            url + "/subscribe",
            data={"email": "bea@uni.example", "keywords": "narwhal", **FORM_FIELDS, "csrf_token": token},
            headers={**proxy, **browser_said, "Cookie": cookie},
            timeout=10,
        )
        assert posted.status_code == 200 and "Check your inbox" in posted.text, posted.text[-400:]
        [mail] = _mails(smtp_server, "bea@uni.example")
        assert f"{base_url}/confirm?t=" in mail.message.get_body(("plain",)).get_content()

        stale = requests.post(  # the same form left open too long: it comes back filled
            url + "/subscribe",
            data={"email": "cy@uni.example", "keywords": "walrus", **FORM_FIELDS, "csrf_token": "stale"},
            headers={**proxy, **browser_said, "Cookie": cookie},
            timeout=10,
        )
        assert stale.status_code == 400 and "What you typed is below" in stale.text
        assert 'value="cy@uni.example"' in stale.text


def _mails(smtp, to: str) -> list:
    for _ in range(200):  # the app sends from its mail thread
        if smtp.to(to):
            break
        threading.Event().wait(0.05)
    return smtp.to(to)


# --- 20. one term typed twice ---------------------------------------------------------------------


def test_a_term_typed_twice_in_another_case_or_with_an_accent_is_kept_once(site):  # noqa: F811
    reader = site.browser()
    confirmed(site, reader, "ada@uni.example")
    typed = {
        "keywords": "narwhal, Narwhal, NARWHAL, narwhal\u0301, sensing",
        "exclude": "Survey, survey",
        "authors": "Ada Lovelace, ada lovelace, Ada  Lovelace",
    }
    saved = reader.post("/manage", {**FORM_FIELDS, **typed}, form_page="/manage")
    assert saved.status_code == 200 and "Saved" in saved.text
    profile = web_subscriber(site.db, "ada@uni.example").profile
    assert profile.keywords == ("narwhal", "sensing")
    assert (profile.exclude, profile.authors) == (("Survey",), ("Ada Lovelace",))
    found = reader.post(
        "/preview", {**FORM_FIELDS, **typed}, form_page="/", headers={"Accept": "application/json"}
    )
    why = found.json()["papers"][0]["why"]  # what the digest would say matched
    assert why[:2] == ["narwhal", "sensing"] and len({w.casefold() for w in why}) == len(why), why


def test_a_word_given_as_keyword_and_exclusion_is_refused_on_the_form(site):  # noqa: F811
    """The exclusion would veto every paper the keyword matched; the form says which to drop."""
    fields = {"email": "ada@uni.example", "keywords": "narwhal, Diffusion Policy", **FORM_FIELDS}
    page = site.browser().post("/subscribe", {**fields, "exclude": "survey, diffusion-policy"}, form_page="/")
    assert page.status_code == 400 and 'id="exclude-error"' in page.text, page.text[-600:]
    assert "“diffusion-policy” is also a keyword" in page.text
    site.settle()
    assert site.smtp.messages == []


# --- 21. addresses at internationalized domains -------------------------------------------------
# Fault: the form took only ASCII domains with a top level of letters: `ada@département.uni.example`
# and `bo@пример.рф` (or `bo@xn--e1afmkfd.xn--p1ai`, as it is written in ASCII) were "not an
# email address", where the YAML took them and digests reach them (their domain in IDNA), and
# `allow_domains: [пример.рф]` was "not a domain name". One domain in its two spellings is one.
@pytest.mark.parametrize(
    "typed, envelope",
    [
        ("ada@Département.uni.example", "ada@xn--dpartement-b7a.uni.example"),
        ("zoë@département.uni.example", "zoë@xn--dpartement-b7a.uni.example"),
    ],
)
def test_an_address_at_an_internationalized_domain_can_sign_up(site, typed, envelope):  # noqa: F811
    assert "Check your inbox" in site.browser().sign_up(typed).text
    assert len(site.mails(envelope, 1)) == 1


def test_allow_domains_may_name_an_internationalized_domain_in_either_spelling(workdir, start_site):  # noqa: F811
    setup_site(
        workdir, web_yaml="web:\n  signup: true\n  allow_domains: [пример.рф, xn--mller-kva.example]\n"
    )
    running = start_site()
    for typed, envelope in [
        ("bo@пример.рф", "bo@xn--e1afmkfd.xn--p1ai"),
        ("cy@cs.xn--e1afmkfd.xn--p1ai", "cy@cs.xn--e1afmkfd.xn--p1ai"),
        ("di@müller.example", "di@xn--mller-kva.example"),
    ]:
        assert "Check your inbox" in running.browser().sign_up(typed).text, typed
        assert len(running.mails(envelope, 1)) == 1, typed
    refused = running.browser().sign_up("ed@mueller.example")
    assert refused.status_code == 400 and "Only addresses at пример.рф, müller.example" in refused.text


def test_mail_to_a_domain_with_a_sharp_s_goes_to_that_domain_not_to_its_ss_spelling(site):  # noqa: F811
    """Python's `idna` codec is IDNA 2003, which maps `straße` to `strasse`: another domain,
    someone else's mailbox. Mail goes to `xn--strae-oqa`, as IDNA 2008 (and DENIC) have it."""
    assert "Check your inbox" in site.browser().sign_up("ada@straße.uni.example").text
    site.settle()
    assert [(list(m.rcpt_tos), m.message["To"]) for m in site.smtp.messages] == [
        (["ada@xn--strae-oqa.uni.example"], "ada@xn--strae-oqa.uni.example")
    ]


# --- 22. sign-up closed ---------------------------------------------------------------------------
# Fault: with `signup: false` (the operator closing the form, say to a wave of spam sign-ups), the
# sign-ups mailed before still confirmed for their 48 hours: each a new subscriber.


def test_closing_sign_up_holds_for_the_sign_ups_mailed_before(workdir, start_site):  # noqa: F811
    setup_site(workdir)
    first = start_site()
    assert first.browser().sign_up("zeb@uni.example").status_code == 200
    link = link_in(first.mails("zeb@uni.example", 1)[0], "/confirm")

    setup_site(workdir, web_yaml="web:\n  signup: false\n")  # closed, and the server restarted
    running = start_site(fetch=False)
    late = running.browser()
    shown = late.get(link.replace(first.url, running.url))
    assert shown.status_code == 403 and "Sign-up on the web is closed here" in shown.text
    page = late.post("/confirm", {"t": parse_qs(urlsplit(link).query)["t"][0]}, form_page="/manage/link")
    assert page.status_code == 403 and "Sign-up on the web is closed here" in page.text, page.text[-400:]
    assert web_subscriber(running.db, "zeb@uni.example") is None


# --- 23. zones that are no place's --------------------------------------------------------------
# Fault: `localtime` (the server's own zone, which moves with the machine), `Factory` (a
# placeholder whose offset is "-00"), `posixrules`, and the `posix/` and `right/` copies of the
# zones (`right/` is for clocks that count leap seconds; neither is in every tz database, so a
# worker on another machine could not read them) were taken as a reader's or the YAML's zone.
NOT_A_PLACE = ["localtime", "Factory", "posixrules", "posix/Europe/Berlin", "right/Europe/Berlin"]


@pytest.mark.parametrize("zone", NOT_A_PLACE)
def test_a_zone_that_is_no_places_is_a_problem_in_the_yaml(workdir, zone):
    (workdir.path / "feed.xml").write_text(arxiv_listing([]), encoding="utf-8")
    workdir.write_config(SOURCES, subscriber("alice", "narwhal") + f"  timezone: {zone}\n")
    out = digestbot(workdir, "check", expect=2).output
    assert f"subscribers[0].timezone: {zone!r} " in out or f"timezone {zone!r}" in out, out
    if "/" in zone:
        assert "did you mean 'Europe/Berlin'?" in out, out


@pytest.mark.parametrize("zone", ["localtime", "right/Europe/Berlin"])
def test_a_zone_that_is_no_places_is_refused_on_the_form_and_in_slack(site, start_web, zone):  # noqa: F811
    fields = {"email": "ada@uni.example", "keywords": "narwhal", **FORM_FIELDS, "timezone": zone}
    page = site.browser().post("/subscribe", fields, form_page="/")
    assert page.status_code == 400 and 'id="timezone-error"' in page.text, page.text[-600:]
    web = start_web()
    web.command("subscribe narwhal", user="U0ZONE001")
    reply = web.command(f"schedule daily 08:00 {zone}", user="U0ZONE001")
    assert reply.startswith(f"{zone!r}") or f"timezone {zone!r}" in reply, reply
    with Store(site.db) as store:
        assert store.subscriber("slack:U0ZONE001").subscriber.timezone != zone


# --- An author written last name first -----------------------------------------------------------
# Fault: the form's authors field split at every comma, so `"Levine, Sergey"` (last name first, as
# BibTeX and Scholar write it, which the matcher now reads) became two one-word authors, "Levine"
# and "Sergey", who match nothing; quotes were taken off but did not keep a comma in. A comma
# inside double quotes ("..." or “...”) now belongs to the entry, and the manage page shows such
# an entry quoted, so saving it again keeps it whole.


def test_an_author_in_quotes_keeps_the_comma_last_name_first(site):  # noqa: F811
    reader = site.browser()
    confirmed(site, reader, "lee@uni.example", "narwhal")
    fields = {"keywords": "narwhal", "exclude": "", **FORM_FIELDS}
    saved = reader.post(
        "/manage",
        {**fields, "authors": '"Levine, Sergey", “Finn, Chelsea”, Ada Lovelace'},
        form_page="/manage",
    )
    assert "Saved" in saved.text
    authors = ("Levine, Sergey", "Finn, Chelsea", "Ada Lovelace")
    assert web_subscriber(site.db, "lee@uni.example").profile.authors == authors
    page = reader.get("/manage")
    assert 'value="&#34;Levine, Sergey&#34;, &#34;Finn, Chelsea&#34;, Ada Lovelace"' in page.text, page.text
    again = re.search(
        r'id="authors" name="authors" type="text" maxlength="\d+" value="([^"]*)"', page.text
    ).group(1)
    reader.post("/manage", {**fields, "authors": html.unescape(again)}, form_page="/manage")
    assert web_subscriber(site.db, "lee@uni.example").profile.authors == authors
