"""Headers and delivery as mail servers and clients see them (issue 11, items 11-14): non-ASCII
addresses (SMTPUTF8), List-Id, RFC 8058 one-click only over https, STARTTLS on port 25 when
offered (require / auto / off), the EHLO name; and the deliverability warnings of check/status.

A real aiosmtpd server on loopback each time, with STARTTLS (a self-signed certificate made
by the openssl command) and SMTPUTF8 switched on or off per test.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from conftest import RecordingHandler, SmtpServer, free_port
from helpers import FeedPaper, digestbot, ledger, subscriber
from test_email_delivery import IMITATION
from test_email_delivery import setup as write_setup

from digestbot.delivery.email import SmtpSettings
from digestbot.text import shorten


@dataclass
class TlsHandler(RecordingHandler):
    """Also records what each client greeted with and whether its mail came over TLS."""

    greetings: list[str] = field(default_factory=list)
    over_tls: list[bool] = field(default_factory=list)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.greetings.append(hostname)
        return await super().handle_EHLO(server, session, envelope, hostname, responses)

    async def handle_DATA(self, server, session, envelope):
        self.over_tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", *subject, *files],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@contextlib.contextmanager
def server(
    certificate=None, smtputf8: bool = False, client_certificate: bool = False
) -> Iterator[SmtpServer]:
    """aiosmtpd on loopback; with `certificate`, offering STARTTLS (`client_certificate`: one
    that insists on a client certificate digestbot does not have, so the handshake fails)."""
    params = {"enable_SMTPUTF8": smtputf8}
    if certificate:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
        if client_certificate:
            context.verify_mode = ssl.CERT_REQUIRED
        params["tls_context"] = context
    handler = TlsHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10, **params)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


def setup(workdir, papers, *subscribers, **config) -> None:
    """The feed and config written, and the papers fetched (nothing sent yet)."""
    write_setup(workdir, papers, *subscribers, **config)
    digestbot(workdir, "fetch")


ZOE = "- id: zoe\n  email: zoë@example.org\n  keywords: [imitation learning]\n"


# --- 11. non-ASCII addresses ----------------------------------------------------------------


def test_a_non_ascii_address_goes_out_with_smtputf8_as_utf8_not_encoded_words(workdir):
    setup(workdir, [IMITATION], ZOE)
    with server(smtputf8=True) as smtp:
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send")
    [mail] = smtp.messages
    assert mail.rcpt_tos == ("zoë@example.org",)
    head = mail.raw.split(b"\r\n\r\n")[0]
    assert (
        "To: zoë@example.org".encode() in head and b"=?utf-8?" not in head.split(b"To:")[1].split(b"\r\n")[0]
    )
    parsed = email.message_from_string(mail.raw.decode("utf-8"), policy=email.policy.default)  # RFC 6532
    assert parsed["To"].addresses[0].addr_spec == "zoë@example.org"
    assert ledger(workdir.db)[0].status == "sent"


def test_a_non_ascii_address_fails_clearly_where_the_server_has_no_smtputf8(workdir):
    setup(workdir, [IMITATION], ZOE, subscriber("alice", "imitation learning"))
    with server(smtputf8=False) as smtp:
        workdir.use_smtp(smtp.url)
        result = digestbot(workdir, "send", expect=1)
    assert [m.rcpt_tos for m in smtp.messages] == [("alice@example.org",)]  # the others still go
    assert "zoe: FAILED" in result.output and "does not offer SMTPUTF8" in result.output
    [failed] = [d for d in ledger(workdir.db) if d.subscriber_id == "zoe"]
    assert failed.status == "pending" and "smtputf8_enable" in (failed.last_error or "")
    assert "UnicodeEncodeError" not in result.output


def test_a_non_ascii_domain_is_sent_in_idna_to_any_server(workdir):
    setup(workdir, [IMITATION], "- id: z\n  email: zoe@exämple.org\n  keywords: [imitation learning]\n")
    with server(smtputf8=False) as smtp:
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send")
    [mail] = smtp.messages
    assert mail.rcpt_tos == ("zoe@xn--exmple-cua.org",)
    assert mail.raw.split(b"\r\n\r\n")[0].isascii()


# --- 12-14. List-Id, one-click, STARTTLS, EHLO -------------------------------------------------


def one_mail(workdir, smtp_url: str, **env) -> object:
    for name, value in env.items():
        workdir.monkeypatch.setenv(name, value)
    workdir.use_smtp(smtp_url)
    digestbot(workdir, "send")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_list_id_names_the_digest_and_one_click_needs_https(workdir, scheme):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    with server() as smtp:
        one_mail(workdir, smtp.url, DIGESTBOT_BASE_URL=f"{scheme}://digest.example.org", DIGESTBOT_SECRET="s")
    [mail] = smtp.messages
    assert mail.message["List-Id"] == '"Paper digest" <digest.example.org>'
    assert mail.message["List-Unsubscribe"].startswith(f"<{scheme}://digest.example.org/unsubscribe?t=")
    one_click = "List-Unsubscribe=One-Click" if scheme == "https" else None  # RFC 8058 requires https
    assert mail.message["List-Unsubscribe-Post"] == one_click


def test_port_25_uses_starttls_when_the_server_offers_it(workdir, certificate):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    with server(certificate) as smtp:  # self-signed: opportunistic TLS does not check it
        one_mail(workdir, smtp.url)
    assert smtp.handler.over_tls == [True]
    assert len(smtp.handler.greetings) == 2  # EHLO again after STARTTLS


def test_starttls_off_sends_in_plain_text_even_when_offered(workdir, certificate):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    with server(certificate) as smtp:
        one_mail(workdir, smtp.url + "?starttls=off")
    assert smtp.handler.over_tls == [False]


def test_starttls_required_but_not_offered_fails_and_keeps_the_digest(workdir):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    with server() as smtp:
        workdir.use_smtp(smtp.url + "?starttls=require")
        result = digestbot(workdir, "send", expect=1)
    assert smtp.messages == []
    assert "does not offer STARTTLS" in result.output
    assert ledger(workdir.db)[0].status == "pending"


def test_starttls_required_checks_the_certificate(workdir, certificate):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    with server(certificate) as smtp:  # not signed by a CA this machine trusts
        workdir.use_smtp(smtp.url + "?starttls=require")
        result = digestbot(workdir, "send", expect=1)
    assert smtp.messages == [] and "TLS failed" in result.output


def test_the_ehlo_name_is_the_operators(workdir):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    with server() as smtp:
        one_mail(workdir, smtp.url + "?ehlo=bot.example.org")
    assert smtp.handler.greetings == ["bot.example.org"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?starttls=maybe", "starttls= must be require, auto or off"),
        ("?ehlo=bad%20name", "ehlo= must be a host name"),
        ("?helo=x", "unknown option 'helo'"),
    ],
)
def test_bad_smtp_options_are_refused_by_check(workdir, query, message):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    workdir.use_smtp("smtp://127.0.0.1:25" + query)
    result = digestbot(workdir, "check", expect=2)
    assert message in result.output


def test_smtp_settings_defaults():
    assert SmtpSettings.from_url("smtp://relay:25").starttls == "auto"
    assert SmtpSettings.from_url("smtp://u:p@relay:25").starttls == "require"
    assert SmtpSettings.from_url("smtp://relay:587").starttls == "require"
    assert SmtpSettings.from_url("smtps://relay").starttls == "off"
    assert SmtpSettings.from_url("smtp://relay?ehlo=[192.0.2.1]").ehlo == "[192.0.2.1]"


# --- 13. deliverability warnings ----------------------------------------------------------------


def test_check_and_status_warn_about_real_mail_without_one_click(workdir):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    workdir.use_smtp("smtp://127.0.0.1:25")
    for command in ("check", "status"):
        out = digestbot(workdir, command).output
        assert "no one-click unsubscribe" in out and "Gmail and Yahoo" in out, command


def test_check_warns_that_an_http_base_url_gives_no_one_click(workdir):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    workdir.use_smtp("smtp://127.0.0.1:25")
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", "http://digest.example.org")
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s")
    out = digestbot(workdir, "check").output
    assert "RFC 8058" in out and "https" in out


def test_check_warns_about_addresses_that_need_smtputf8(workdir):
    setup(workdir, [IMITATION], ZOE)
    workdir.use_smtp("smtp://127.0.0.1:25")
    out = digestbot(workdir, "check").output
    assert "warning: zoë@example.org: not ASCII before the @, so only an SMTP server offering SMTPUTF8" in out


def test_no_warning_with_https_one_click_or_the_outbox(workdir):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    assert "warning:" not in digestbot(workdir, "check").output  # the outbox: nothing is mailed
    workdir.use_smtp("smtp://127.0.0.1:25")
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.example.org")
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s")
    assert "warning:" not in digestbot(workdir, "check").output


def test_a_failed_opportunistic_starttls_falls_back_to_plain_text(workdir, certificate):
    setup(workdir, [IMITATION], subscriber("alice", "imitation learning"))
    with server(certificate, client_certificate=True) as smtp:  # every handshake fails
        workdir.use_smtp(smtp.url)
        result = digestbot(workdir, "-v", "send")
    assert smtp.handler.over_tls == [False] and len(smtp.messages) == 1
    assert "STARTTLS with smtp://127.0.0.1" in result.stderr and "sending in plain text" in result.stderr


# --- headers as a mail client reads them (hunt32) -------------------------------------------


def header_lines(raw: bytes) -> list[str]:
    """The header section of a message as its lines (folded continuation lines separate)."""
    return raw.split(b"\r\n\r\n")[0].decode("utf-8").split("\r\n")


LONG_NAME = "Ünïcödé Résearch Digest of the Département d'Informatique, Université de Genève, Suisse"


def test_a_long_non_ascii_sender_name_is_encoded_words_of_at_most_75_in_folded_lines(workdir):
    setup(
        workdir,
        [IMITATION],
        subscriber("alice", "imitation learning"),
        email_from=f"{LONG_NAME} <d@example.org>",
    )
    with server() as smtp:
        one_mail(workdir, smtp.url)
    [mail] = smtp.messages
    lines = header_lines(mail.raw)
    words = [w for line in lines for w in re.findall(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", line)]
    assert words and all(len(w) <= 75 for w in words), words  # RFC 2047 section 2
    assert all(len(line) <= 78 for line in lines), [line for line in lines if len(line) > 78]
    assert mail.message["From"].addresses[0].display_name == LONG_NAME  # no word cut in two
    assert mail.message["From"].addresses[0].addr_spec == "d@example.org"
    from_lines = "".join(mail.raw.split(b"\r\nTo:")[0].split(b"From:")[1].decode().split("\r\n"))
    phrase = from_lines.rsplit(" <", 1)[0]
    assert str(make_header(decode_header(phrase))) == LONG_NAME  # as an RFC 2047 reader joins them


CYRILLIC = FeedPaper(
    "2501.10009",
    "Имитационное обучение для роботов-манипуляторов с демонстрациями",
    "We study imitation learning from demonstrations.",
)


def test_a_non_ascii_subject_is_encoded_words_of_at_most_75(workdir):
    setup(workdir, [CYRILLIC], subscriber("alice", "imitation learning"))
    with server() as smtp:
        one_mail(workdir, smtp.url)
    [mail] = smtp.messages
    subject = [line for line in header_lines(mail.raw) if line.startswith(("Subject:", " "))]
    words = re.findall(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", " ".join(subject))
    assert len(words) > 1 and all(len(w) <= 75 for w in words), [len(w) for w in words]
    assert mail.message["Subject"] == "1 new paper for you: " + shorten(CYRILLIC.title, 80)


EMOJI_DOMAIN = "- id: e\n  email: zoe@😀.example\n  keywords: [imitation learning]\n"


@pytest.mark.parametrize(
    ("subscribers", "config", "address"),
    [
        (EMOJI_DOMAIN, {}, "zoe@😀.example"),  # a domain with no IDNA form goes as UTF-8
        (
            subscriber("alice", "imitation learning"),
            {"email_from": "Zoë <zoë@example.org>"},
            "zoë@example.org",
        ),
    ],
    ids=["emoji-domain", "utf8-sender"],
)
def test_check_warns_about_every_address_that_needs_smtputf8(workdir, subscribers, config, address):
    # check warned only of a subscriber's local part outside ASCII: a domain IDNA cannot write
    # (an emoji) and a sender outside ASCII need SMTPUTF8 too, and their digests failed unannounced.
    setup(workdir, [IMITATION], subscribers, **config)
    with server(smtputf8=False) as smtp:
        workdir.use_smtp(smtp.url)
        out = digestbot(workdir, "check").output
        assert f"warning: {address}: " in out and "SMTPUTF8" in out
        sent = digestbot(workdir, "send", expect=1).output
    assert smtp.messages == [] and f"the address {address} is not ASCII" in sent


@pytest.mark.parametrize("sid", ["alice.", "a..b"])
def test_the_message_id_is_one_a_strict_reader_takes_whatever_the_subscriber_id(workdir, sid):
    # A subscriber id may end with a dot or hold two (the YAML allows it): the Message-ID made
    # from it had ".." in its left part, which RFC 5322 refuses (a strict server or client
    # replaces or drops such an id, and threads and duplicate checks lose it).
    setup(workdir, [IMITATION], f"- id: {sid}\n  email: a@example.org\n  keywords: [imitation learning]\n")
    with server() as smtp:
        one_mail(workdir, smtp.url)
    [mail] = smtp.messages
    header = mail.message["Message-ID"]
    assert header.defects == () and str(header).startswith("<digest.")
