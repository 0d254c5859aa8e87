"""Faults found by using the web pages as researchers and hostile visitors do (hunt 46); each
test failed before its fix. Against the real app on waitress over loopback, the real SMTP server
(aiosmtpd) for the mail the pages send, the real database, and headless Chromium where the
page's own behaviour matters.

1. Two manage pages open in one browser (two digests, two tabs): a form of the first page
   changes the digest it shows, never the one the browser signed in to since; opening the same
   digest's manage link again, or confirming a sign-up, does not spoil the forms already open
   in other tabs (they said "This form expired").
2. The browser's Back button after a change on the manage page (Save, Pause, ...) and a page
   visited from it: the manage page again, not Chromium's "Confirm Form Resubmission"; a
   reload does not send the change again.
3. A sign-up form (or a manage-link request) sent back for a field to fix sends no mail, and
   does not use up the client's hourly sign-ups: a reader fixing their typos, or the colleagues
   behind the same campus NAT, could not subscribe for an hour.
4. `digestbot serve` takes an edit of the YAML as the worker does (within seconds, no restart):
   `web.signup: false` closes the form, a narrowed `allow_domains` holds, the operator's new
   `email.from` signs the pages' mail; a broken edit keeps the previous config running.
5. A sign-up the database failed to keep (a write refused half-way) leaves nothing behind: not
   its address's one confirmation an hour, so asking again sends the mail.
6. With JavaScript off, on a phone, the Preview button's answer shows the preview (or what to
   fix for one) on the screen: the page came back at its top, the preview off the screen below
   the form, and the reader saw nothing happen.
7. The confirmation page says what its button will do: a link a newer sign-up replaced says so
   at once (its "One click and your digest starts" button could only fail), and one confirmed
   already (Back after confirming, the mail opened again) says so and opens the manage page.
8. Over HTTPS, a browser that sends no Referer (a privacy setting or extension) but its Origin
   can use the forms: every post came back "This form expired", at each try.
9. A preview over a week in which no papers came in (a new install, a worker stopped) says so,
   not "0 papers from the last 7 days match", which sent readers rewording good keywords.
10. The database down during a submit: the page says so as a page of the site (503, try again
   later, nothing changed), not a bare line of plain text.
11. The live preview tells a screen reader how many papers match, not every title of the list
   each time the reader pauses typing (the whole section was the live region).
12. The 200 liked papers a reader may keep fit the field as the links a browser copies
   (`https://arxiv.org/abs/2303.04137v2`), not only as bare ids: the field took 6000 characters,
   about 170 links, and the browser cut a longer paste short without a word.
13. "Email me my manage link" takes an address outside ASCII (`zoë@`, which sign-up takes): the
   browser's own check of the email field refused to send the form.
14. A browser that keeps no cookie for the site (cookies blocked) is told so when its form is
   refused: "This form expired" alone sent the reader round in circles, each retry refused.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

import requests
from browser import browser, set_viewport  # noqa: F401 (browser: a fixture)
from helpers import SOURCES, subscriber
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from test_slack import UNSUB_SECRET
from test_web import (  # noqa: F401 (site, start_site: fixtures)
    FORM_FIELDS,
    NARWHAL,
    WEB_YAML,
    Site,
    link_in,
    site,
    start_site,
    web_subscriber,
)
from test_web_browser import navigate, text_of, wait
from test_web_faults import smtp_server  # noqa: F401 (a fixture: the SMTP server offers SMTPUTF8)

from digestbot import web_pages
from digestbot.links import manage_url
from digestbot.models import Profile, Subscriber
from digestbot.store import Store


def _web_reader(running: Site, email: str, keywords: tuple[str, ...]) -> str:
    """A confirmed web subscriber at `email`; its id."""
    sid = "web:" + email.split("@")[0]
    sub = Subscriber(sid, Profile(keywords=keywords), email, origin="web", **_when())
    with Store(running.db) as store:
        store.save_web_subscriber(sub)
    return sid


def _when() -> dict:
    return {"schedule": "daily 08:00", "timezone": "Europe/Berlin", "max_papers": 10}


def _forms(page: requests.Response) -> dict[str, tuple[str, dict]]:
    """A page's forms by the last part of the path they post to: (action, hidden fields)."""
    found = {}
    for form in re.findall(r"<form\b[^>]*>.*?</form>", page.text, re.S):
        action = urljoin(page.url, html.unescape(re.search(r'action="([^"]*)"', form).group(1)))
        hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
        found[urlsplit(action).path.rsplit("/", 1)[-1]] = (action, {k: html.unescape(v) for k, v in hidden})
    return found


# --- 1. two manage pages in one browser ----------------------------------------------------------


def test_a_manage_page_left_open_in_another_tab_never_changes_the_digest_signed_in_since(site):  # noqa: F811
    """A researcher with two digests (two addresses) opened the manage link of the first, then
    of the second in another tab, and went back to the first tab: its Save wrote the first
    digest's keywords into the second (the form came back "expired", filled, on the second
    digest's page, and Save again stored it there), and its Unsubscribe stopped the second."""
    ada = _web_reader(site, "ada@uni.example", ("narwhal",))
    bo = _web_reader(site, "bo@uni.example", ("quokka",))
    reader = site.browser()
    reader.http.headers["Origin"] = site.url  # as a browser sends with a form's post
    first = reader.get(manage_url(site.url, ada, UNSUB_SECRET))  # tab 1
    assert "ada@uni.example" in first.text
    assert "bo@uni.example" in reader.get(manage_url(site.url, bo, UNSUB_SECRET)).text  # tab 2
    tab1 = _forms(first)

    action, hidden = tab1["manage"]
    saved = reader.http.post(action, data={**hidden, **FORM_FIELDS, "keywords": "walrus"}, timeout=10)
    assert "Traceback" not in saved.text
    if saved.status_code == 400:  # "expired": the form comes back filled, and the reader saves again
        again = _forms(saved)["manage"]
        saved = reader.http.post(again[0], data={**again[1], **FORM_FIELDS, "keywords": "walrus"}, timeout=10)
    assert web_subscriber(site.db, "bo@uni.example").profile.keywords == ("quokka",)
    assert web_subscriber(site.db, "ada@uni.example").profile.keywords == ("narwhal",)
    assert saved.status_code == 409 and "another tab" in saved.text, saved.text[-1500:]

    action, hidden = tab1["unsubscribe"]
    stopped = reader.http.post(action, data=hidden, timeout=10)
    assert stopped.status_code == 409 and "another tab" in stopped.text
    assert web_subscriber(site.db, "bo@uni.example").active


def test_opening_the_same_manage_link_again_keeps_the_page_open_before_working(site):  # noqa: F811
    """The manage link clicked twice (two tabs of one digest): saving in the first said the
    form had expired, and nothing was saved."""
    ada = _web_reader(site, "ada@uni.example", ("narwhal",))
    reader = site.browser()
    reader.http.headers["Origin"] = site.url
    first = reader.get(manage_url(site.url, ada, UNSUB_SECRET))
    reader.get(manage_url(site.url, ada, UNSUB_SECRET))  # the same link, another tab
    action, hidden = _forms(first)["manage"]
    saved = reader.http.post(action, data={**hidden, **FORM_FIELDS, "keywords": "walrus"}, timeout=10)
    assert saved.status_code == 200 and "Saved: your next digest uses it." in saved.text
    assert web_subscriber(site.db, "ada@uni.example").profile.keywords == ("walrus",)


def test_confirming_in_one_tab_keeps_the_sign_up_form_of_another_working(site):  # noqa: F811
    """A researcher signed up, confirmed from the mail (a new tab), and went back to the sign-up
    tab to subscribe a second address: "This form expired (a page is good for 2 hours)", two
    minutes later."""
    reader = site.browser()
    reader.http.headers["Origin"] = site.url
    form = reader.get("/")
    assert reader.sign_up("hal@uni.example").ok
    link = link_in(site.mails("hal@uni.example", 1)[0], "/confirm")
    action, hidden = _forms(reader.get(link))["confirm"]
    assert reader.http.post(action, data=hidden, timeout=10).url.endswith("/manage?welcome=1")

    action, hidden = _forms(form)["subscribe"]
    data = {**hidden, "email": "hal@lab.uni.example", "keywords": "quokka", **FORM_FIELDS}
    again = reader.http.post(action, data=data, timeout=10)
    assert again.status_code == 200 and "Check your inbox" in again.text, again.text[-800:]


# --- 2. Back after a change on the manage page -------------------------------------------------


def test_back_after_saving_on_the_manage_page_shows_the_page_not_a_resubmission(site, browser):  # noqa: F811
    """The reader saved new keywords, opened a paper of their recent digests, and pressed Back:
    Chromium showed "Confirm Form Resubmission" (ERR_CACHE_MISS), the page being the answer to
    a POST that `Cache-Control: no-store` keeps out of the cache; a reload posted it again."""
    ada = _web_reader(site, "ada@uni.example", ("narwhal",))
    driver = browser()
    driver.get(manage_url(site.url, ada, UNSUB_SECRET))
    wait(driver).until(ready.title_contains("Manage your digest"))
    keywords = driver.find_element(By.ID, "keywords")
    keywords.clear()
    keywords.send_keys("quokka")
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]"))
    assert "Saved: your next digest uses it." in text_of(driver)
    assert web_subscriber(site.db, "ada@uni.example").profile.keywords == ("quokka",)

    with Store(site.db) as store:  # changed meanwhile (another tab): a reload must not undo it
        store.save_web_subscriber(
            replace(web_subscriber(site.db, "ada@uni.example"), profile=Profile(("walrus",)))
        )
    driver.get(site.url + "/healthz")  # a page visited from it (a paper of the recent digests)
    driver.back()
    wait(driver).until(lambda d: "Manage your digest" in d.title or "Resubmission" in text_of(d))
    assert "Resubmission" not in text_of(driver) and "ERR_CACHE_MISS" not in text_of(driver)
    driver.refresh()
    wait(driver).until(ready.title_contains("Manage your digest"))
    assert web_subscriber(site.db, "ada@uni.example").profile.keywords == ("walrus",)

    navigate(driver, driver.find_element(By.XPATH, "//button[text()='Pause']"))
    assert "Paused: no digests until you resume." in text_of(driver)
    driver.get(site.url + "/healthz")
    driver.back()
    wait(driver).until(lambda d: "Manage your digest" in d.title or "Resubmission" in text_of(d))
    assert "Resubmission" not in text_of(driver) and "paused" in driver.find_element(By.ID, "state").text


# --- 3. forms sent back for a field to fix -----------------------------------------------------


def test_a_sign_up_sent_back_for_a_field_to_fix_does_not_use_up_the_hourly_sign_ups(site):  # noqa: F811
    """Ten sign-ups an hour per client: each press of Subscribe that came back with a field to
    fix (a keyword that is also an exclusion, an address outside allow_domains) counted, so
    the eleventh, correct, one got "Too many requests" and no mail."""
    reader = site.browser()
    limit = web_pages.LIMITS["signup-ip"][0]
    for i in range(limit):
        bad = {"email": "ida@uni.example", "keywords": "narwhal", "exclude": "narwhal", **FORM_FIELDS}
        if i % 2:
            bad.update(email="ida@elsewhere.example", exclude="")
        assert reader.post("/subscribe", bad, form_page="/").status_code == 400
    for i in range(limit):
        assert reader.post("/manage/link", {"email": f"not an address {i}"}).status_code == 400
    assert "Check your inbox" in reader.sign_up("ida@uni.example").text
    assert site.mails("ida@uni.example", 1)[0].message["Subject"].startswith("Confirm")
    assert "Check your inbox" in reader.post("/manage/link", {"email": "ida@uni.example"}).text
    for i in range(1, limit):  # what counts: the sign-ups that went through
        assert reader.sign_up(f"ida{i}@uni.example").status_code == 200
    assert reader.sign_up("ida-more@uni.example").status_code == 429


# --- 4. serve takes an edit of the YAML ------------------------------------------------------------


def test_serve_takes_an_edit_of_the_yaml_without_a_restart(workdir, site, caplog):  # noqa: F811
    """The operator closed sign-up (`web.signup: false`) and reloaded, as the README's Config
    changes say: the worker took it, `digestbot serve` went on with the YAML it read at start,
    its form open, sign-ups confirmed, the old allow_domains and From in force."""
    caplog.set_level(logging.INFO, "digestbot")
    reader = site.browser()
    assert 'id="profile-form"' in reader.get("/").text

    def edit(web_yaml: str, **kwargs) -> None:
        workdir.write_config(SOURCES, subscriber("alice", "quokka"), extra_yaml=web_yaml, **kwargs)
        site.clock[0] += 10  # the server looks at the file every few seconds

    edit(
        WEB_YAML.replace("allow_domains: [uni.example]", "allow_domains: [lab.uni.example]"),
        email_from="Lab <lab@uni.example>",
    )
    refused = reader.sign_up("eve@other.uni.example")
    assert refused.status_code == 400 and "Only addresses at lab.uni.example" in refused.text
    assert "Check your inbox" in reader.sign_up("eve@lab.uni.example").text
    [mail] = site.mails("eve@lab.uni.example", 1)
    assert mail.message["From"] == "Lab <lab@uni.example>"

    edit(WEB_YAML.replace("signup: true", "signup: false"))
    closed = reader.get("/")
    assert "Sign-up on the web is closed here" in closed.text and 'id="profile-form"' not in closed.text
    late = {"email": "fay@uni.example", "keywords": "narwhal", **FORM_FIELDS}
    assert reader.post("/subscribe", late, form_page="/manage/link").status_code == 403

    (workdir.path / "mine" / "web").mkdir(parents=True)  # a templates: folder added: its pages
    (workdir.path / "mine" / "web" / "closed.html").write_text("Ask Ada for an account.", encoding="utf-8")
    workdir.config.write_text("templates: mine\n" + workdir.config.read_text(), encoding="utf-8")
    site.clock[0] += 10
    assert reader.get("/").text == "Ask Ada for an account."
    workdir.config.write_text(workdir.config.read_text().replace("templates: mine\n", ""))
    site.clock[0] += 10
    assert "Sign-up on the web is closed here" in reader.get("/").text  # the folder gone again

    workdir.config.write_text(workdir.config.read_text() + "subscribers: [oops\n")  # a broken edit
    site.clock[0] += 10
    assert "Sign-up on the web is closed here" in reader.get("/").text  # the last good one runs on
    assert any("still serving the previous config" in r.getMessage() for r in caplog.records)

    workdir.write_config(SOURCES, subscriber("alice", "quokka"))  # web: gone: that takes a restart
    site.clock[0] += 10
    assert "Sign-up on the web is closed here" in reader.get("/").text  # not a 500
    assert any("restart digestbot serve" in r.getMessage() for r in caplog.records)


# --- 5. a sign-up the database failed to keep ------------------------------------------------------


def test_a_sign_up_the_database_failed_to_keep_does_not_use_up_the_hourly_confirmation(site):  # noqa: F811
    """The database refused the sign-up's write (disk full, a failover) after its address's
    hourly confirmation had been counted: the reader saw "Check your inbox", no mail came, and
    asking again sent nothing for an hour."""
    import sqlite3

    with sqlite3.connect(site.db) as db:  # the next write of a sign-up fails, as a full disk would
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON web_signups BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    reader = site.browser()
    assert "Check your inbox" in reader.sign_up("gil@uni.example").text
    site.settle()
    assert site.smtp.to("gil@uni.example") == []
    with sqlite3.connect(site.db) as db:
        db.execute("DROP TRIGGER refuse")
        assert db.execute("SELECT COUNT(*) FROM web_signups").fetchone() == (0,)

    assert "Check your inbox" in reader.sign_up("gil@uni.example").text  # asking again
    [mail] = site.mails("gil@uni.example", 1)
    assert mail.message["Subject"].startswith("Confirm")


# --- 6. the preview without JavaScript, on a phone -----------------------------------------------

IN_VIEW = """
const box = document.getElementById(arguments[0]).getBoundingClientRect();
return box.top >= 0 && box.top < window.innerHeight;
"""


def test_without_javascript_the_preview_button_shows_the_preview_on_the_screen(site, browser):  # noqa: F811
    driver = browser(javascript=False)
    set_viewport(driver, 375, 667)
    driver.get(site.url + "/")
    driver.find_element(By.ID, "keywords").send_keys("narwhal")
    navigate(driver, driver.find_element(By.ID, "preview-button"))
    wait(driver).until(ready.text_to_be_present_in_element((By.ID, "preview-list"), NARWHAL.title))
    assert driver.execute_script(IN_VIEW, "preview-summary"), "the preview is off the screen"

    keywords = driver.find_element(By.ID, "keywords")
    keywords.clear()
    keywords.send_keys("*")  # a term that can match nothing: the preview says what to fix
    navigate(driver, driver.find_element(By.ID, "preview-button"))
    summary = driver.find_element(By.ID, "preview-summary")
    assert driver.execute_script(IN_VIEW, "preview-summary") and "Cannot use" in summary.text, summary.text
    navigate_to = summary.find_element(By.CSS_SELECTOR, "a[href='#keywords']")  # to the field to fix
    navigate_to.click()
    assert driver.switch_to.active_element.get_attribute("id") == "keywords"

    reader = site.browser()  # a page left open past its form's 2 hours: the preview says so too
    reader.http.headers["Origin"] = site.url
    page = reader.post("/preview", {"keywords": "narwhal", **FORM_FIELDS}, csrf="expired")
    assert page.status_code == 400 and "there is no preview yet: press Preview again" in page.text


# --- 7. the confirmation page says what its button does ------------------------------------------


def test_the_confirmation_page_of_a_replaced_or_used_link_says_so_before_its_button(site):  # noqa: F811
    reader = site.browser()
    reader.http.headers["Origin"] = site.url
    assert reader.sign_up("ivo@uni.example").ok
    first = link_in(site.mails("ivo@uni.example", 1)[0], "/confirm")
    site.clock[0] += 3601  # an hour later the reader asks again: a second mail, a new link
    assert reader.sign_up("ivo@uni.example", "narwhal, quokka").ok
    second = link_in(site.mails("ivo@uni.example", 2)[1], "/confirm")

    stale = reader.get(first)
    assert stale.status_code == 400 and "replaced by a newer one" in stale.text
    assert "Confirm my subscription" not in stale.text

    page = reader.get(second)
    assert "One click and your digest starts" in page.text
    action, hidden = _forms(page)["confirm"]
    assert reader.http.post(action, data=hidden, timeout=10).url.endswith("/manage?welcome=1")
    back = reader.get(second)  # the Back button, or the mail's link opened again
    assert "confirmed already" in back.text and "One click and your digest starts" not in back.text
    action, hidden = _forms(back)["confirm"]
    shown = reader.http.post(action, data=hidden, timeout=10)
    assert shown.url.endswith("/manage?welcome=1") and "ivo@uni.example" in shown.text
    assert web_subscriber(site.db, "ivo@uni.example").profile.keywords == ("narwhal", "quokka")
    reader.http.cookies.clear()  # the confirmed page left open past its form's 2 hours
    expired = reader.http.post(action, data={**hidden, "csrf_token": "stale"}, timeout=10)
    assert expired.status_code == 400 and "Open my manage page" in expired.text


# --- 8. over HTTPS without a Referer ---------------------------------------------------------------


def test_over_https_a_browser_that_sends_no_referer_can_sign_up(workdir, smtp_server):  # noqa: F811
    """Flask-WTF's strict HTTPS check wanted a Referer: a browser set to send none (Firefox's
    network.http.sendRefererHeader=0, a referer-blocking extension) had every form refused as
    expired and refilled, however often the reader pressed Subscribe. Its Origin says as much."""
    from test_web_faults import _behind_https_proxy, _mails

    with _behind_https_proxy(workdir, smtp_server, "https://digest.uni.example") as url:
        proxy = {"Host": "digest.uni.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
        page = requests.get(url + "/", headers=proxy, timeout=10)
        cookie = page.headers["Set-Cookie"].split(";")[0]  # Secure: sent back by hand over loopback
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

        def post(email: str, said: dict) -> requests.Response:
            data = {"email": email, "keywords": "narwhal", **FORM_FIELDS, "csrf_token": token}
            headers = {**proxy, **said, "Cookie": cookie}
            return requests.post(url + "/subscribe", data=data, headers=headers, timeout=10)

        posted = post("bea@uni.example", {"Origin": "https://digest.uni.example"})  # no Referer
        assert posted.status_code == 200 and "Check your inbox" in posted.text, posted.text[-400:]
        assert _mails(smtp_server, "bea@uni.example")

        for said in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/"}):
            refused = post("cy@uni.example", said)  # neither, or another site's: still refused
            assert refused.status_code == 400 and "cy@uni.example" not in refused.text, said


# --- 9. a preview with no papers to look at -----------------------------------------------------------


def test_a_preview_over_a_week_without_papers_says_so_not_that_nothing_matched(site, browser):  # noqa: F811
    site.clock[0] += 8 * 86400  # the stored papers are older than the week a preview looks at
    driver = browser()
    driver.get(site.url + "/")
    driver.find_element(By.ID, "keywords").send_keys("narwhal")
    summary = (By.ID, "preview-summary")
    wait(driver).until(lambda d: not d.find_element(*summary).text.startswith("See what"))
    said = driver.find_element(*summary).text
    assert "No papers came in over the last 7 days" in said and "match" not in said, said

    page = site.browser().post("/preview", {"keywords": "narwhal", **FORM_FIELDS}, form_page="/")
    assert "No papers came in over the last 7 days" in page.text  # the page without JavaScript

    site.clock[0] -= 8 * 86400  # a week with papers: how many of them matched
    found = site.browser().post("/preview", {"keywords": "narwhal", **FORM_FIELDS}, form_page="/")
    assert "1 of 3 papers from the last 7 days matches" in html.unescape(re.sub(r"<[^>]+>", "", found.text))


# --- 10. the database down during a submit -------------------------------------------------------------


def test_a_submit_while_the_database_is_down_answers_with_a_page_of_the_site(site):  # noqa: F811
    ada = _web_reader(site, "ada@uni.example", ("narwhal",))
    reader = site.browser()
    form = _forms(reader.get(manage_url(site.url, ada, UNSUB_SECRET)))["manage"]
    token = reader.token("/")
    site.db.unlink()
    site.db.mkdir()  # not a database any more: nothing can be read or written
    for page in (
        reader.http.post(form[0], data={**form[1], **FORM_FIELDS, "keywords": "walrus"}, timeout=10),
        reader.post(
            "/subscribe", {"email": "bo@uni.example", "keywords": "narwhal", **FORM_FIELDS}, csrf=token
        ),
    ):
        assert page.status_code == 503 and page.headers["Retry-After"] == "60"
        assert page.headers["Content-Type"].startswith("text/html"), page.headers["Content-Type"]
        assert "Paper digest</a>" in page.text and "nothing was changed" in page.text


# --- 11. what the live preview tells a screen reader ---------------------------------------------------

LIVE = """
const live = el => el.closest('[aria-live]:not([aria-live=off])');
return [!!live(document.getElementById('preview-summary')), !!live(document.getElementById('preview-list'))];
"""


def test_the_live_preview_announces_its_count_not_every_title(site, browser):  # noqa: F811
    driver = browser()
    driver.get(site.url + "/")
    driver.find_element(By.ID, "keywords").send_keys("narwhal, quokka")
    wait(driver).until(ready.text_to_be_present_in_element((By.ID, "preview-list"), NARWHAL.title))
    summary_live, list_live = driver.execute_script(LIVE)
    assert summary_live and not list_live, "the list of titles is read out at each pause in typing"


# --- 12. 200 liked papers as links ------------------------------------------------------------------


def test_two_hundred_liked_papers_pasted_as_links_fit_the_field(site):  # noqa: F811
    links = ", ".join(f"https://arxiv.org/abs/2303.{10000 + i}v2" for i in range(200))
    form = site.browser().get("/").text
    limit = int(re.search(r'<input id="likes"[^>]*maxlength="(\d+)"', form).group(1))
    assert limit >= len(links), f"the browser cuts a paste of {len(links)} characters at {limit}"

    reader = site.browser()
    data = {"email": "jan@uni.example", "keywords": "", "likes": links, **FORM_FIELDS}
    page = reader.post("/subscribe", data, form_page="/")
    assert page.status_code == 200 and "Check your inbox" in page.text, re.findall(
        r'class="error"[^<]*<', page.text
    )
    action, hidden = _forms(reader.get(link_in(site.mails("jan@uni.example", 1)[0], "/confirm")))["confirm"]
    reader.http.post(action, data=hidden, timeout=10)
    assert len(web_subscriber(site.db, "jan@uni.example").profile.likes) == 200


# --- 13. the manage-link form and an address outside ASCII ----------------------------------------


def test_the_manage_link_form_takes_an_address_outside_ascii(site, browser):  # noqa: F811
    """Sign-up's form has `novalidate`; the manage-link form did not, so Chromium refused to
    send `zoë@uni.example` ("A part followed by '@' should not contain the symbol 'ë'")."""
    _web_reader(site, "zoë@uni.example", ("narwhal",))
    driver = browser()
    driver.get(site.url + "/manage/link")
    driver.find_element(By.ID, "email").send_keys("zoë@uni.example")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver).until(
        lambda d: (
            "Check your inbox" in d.title
            or d.execute_script(
                "return document.getElementById('email') && document.getElementById('email').validationMessage"
            )
        )
    )
    assert "Check your inbox" in driver.title, driver.execute_script(
        "return document.getElementById('email').validationMessage"
    )
    [mail] = site.mails("zoë@uni.example", 1)
    assert mail.message["Subject"].startswith("Your link")


# --- 14. a browser that keeps no cookie -------------------------------------------------------------


def test_a_browser_that_keeps_no_cookie_is_told_why_its_forms_are_refused(site):  # noqa: F811
    reader = site.browser()
    reader.http.headers["Origin"] = site.url
    typed = {"email": "kai@uni.example", "keywords": "narwhal", **FORM_FIELDS}
    for _ in range(2):  # each try: a fresh page, its cookie not kept
        token = reader.token("/")
        reader.http.cookies.clear()
        page = reader.post("/subscribe", typed, csrf=token)
        assert page.status_code == 400 and "allow cookies for this site" in page.text, page.text[-900:]
        assert 'value="kai@uni.example"' in page.text  # what was typed comes back, as for an expired form

    reader.token("/")  # a page left open past its 2 hours: expired, and its cookie was kept
    site.clock[0] += 3 * 3600
    page = reader.post("/subscribe", typed, csrf=token)
    assert page.status_code == 400 and "expired" in page.text and "allow cookies" not in page.text
