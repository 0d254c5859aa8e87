"""Faults found by attacking the web pages and their mail as a hostile visitor, a mail scanner
or an unlucky subscriber would; each test failed before its fix. Against the real app on
waitress over loopback, with a real SMTP server (aiosmtpd, here offering SMTPUTF8 so that mail
to an address outside ASCII arrives and can be checked).

1. Addresses: a manage link goes to the address the subscription holds, never to the variant a
   visitor typed; an address is kept in one Unicode form (NFC).
2. HTTP: a 405 says which methods the URL takes (Allow), as RFC 9110 requires.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import requests
from aiosmtpd.controller import Controller
from conftest import RecordingHandler, SmtpServer, free_port
from test_web import Site, confirmed, site, start_site, web_subscriber  # noqa: F401 (fixtures)

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


def recipients(site: Site) -> list[str]:
    """Every envelope recipient of every message the app sent, once its mail thread is done."""
    site.settle()
    return [r for m in site.smtp.messages for r in m.rcpt_tos]


# --- 1. addresses -----------------------------------------------------------------------------

KATE = "kate@uni.example"
# Variants a lookup folds onto kate's address: other case, and U+212A KELVIN SIGN, which
# lower() turns into an ASCII "k", but which a mail server takes for another mailbox.
VARIANTS = ["KATE@uni.example", "\u212aate@uni.example"]


@pytest.mark.parametrize("typed", VARIANTS, ids=["case", "kelvin-sign"])
def test_a_manage_link_goes_to_the_subscribers_address_not_the_variant_typed(site, typed):
    confirmed(site, site.browser(), KATE)
    assert recipients(site) == [KATE]

    asker = site.browser()  # someone else, on the "email me my link" page
    assert asker.post("/manage/link", {"email": typed}).status_code == 200
    assert recipients(site) == [KATE, KATE]  # the link went to kate's own inbox

    assert asker.sign_up(typed).status_code == 200  # signing up "again" sends the manage link
    assert recipients(site) == [KATE, KATE, KATE]
    assert all("manage" in m.message["Subject"] for m in site.smtp.messages[1:])


def test_an_address_is_kept_in_one_unicode_form(site):
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
    "method, path, allowed",
    [
        ("PUT", "/", {"GET", "HEAD", "OPTIONS"}),
        ("GET", "/subscribe", {"POST", "OPTIONS"}),
        ("DELETE", "/unsubscribe", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("GET", "/slack/commands", {"POST", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_a_method_not_allowed_says_which_are(site, method, path, allowed):
    response = requests.request(method, site.url + path, timeout=10)
    assert response.status_code == 405
    assert set(response.headers.get("Allow", "").replace(" ", "").split(",")) == allowed
    assert response.headers["Cache-Control"] == "no-store"  # the security headers still apply
