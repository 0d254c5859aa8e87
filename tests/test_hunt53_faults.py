"""Hunt 53: the email digest and its delivery over SMTP, as a reader and a mail admin see them.

SMTP servers are real aiosmtpd servers on loopback; every test checks what arrived, what the
ledger records and what the run said."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import test_mail_headers
from aiosmtpd.smtp import AuthResult
from conftest import RecordingHandler, serving
from helpers import FeedPaper, digestbot, ledger, subscriber
from test_email_delivery import GRAPHS, IMITATION, REASONING, setup

ALICE = subscriber("alice", "imitation learning")
BOB = subscriber("bob", "reasoning")
DAVE = subscriber("dave", "graph neural network")


@dataclass
class RefusesTheSender(RecordingHandler):
    """Refuses MAIL FROM with `mail_reply` (while `refusing`), as a submission server does for
    an address the login may not send as."""

    mail_reply: str = "553 5.7.1 <digest@example.org>: Sender address rejected: not owned by user me"
    refusing: bool = True
    mails: int = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails += 1
        if self.refusing:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


def test_a_sender_the_server_refuses_for_good_is_asked_once_and_the_error_says_to_fix_email_from(workdir):
    setup(workdir, [IMITATION, REASONING, GRAPHS], ALICE, BOB, DAVE)
    digestbot(workdir, "fetch")
    with serving(RefusesTheSender(pipelining=True)) as smtp:
        workdir.use_smtp(smtp.url)
        result = digestbot(workdir, "send", expect=1)
        # the sender is every digest's: one refusal says it for the run (was: one login and one
        # refusal per subscriber, each on a new connection)
        assert smtp.handler.mails == 1 and smtp.connections == 1 and smtp.messages == []
        records = ledger(workdir.db)
        assert [r.status for r in records] == ["pending"] * 3
        for r in records:
            assert "refused the sender: 553 5.7.1" in (r.last_error or ""), r.last_error
            assert "set email.from" in (r.last_error or ""), r.last_error
        assert result.output.count("set email.from") == 3
        smtp.handler.refusing = False  # the admin lets the login send as that address
        digestbot(workdir, "send", "--force")
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
            "alice@example.org",
            "bob@example.org",
            "dave@example.org",
        ]
    assert [r.status for r in ledger(workdir.db)] == ["sent"] * 3


def send_refused(workdir, reply: str) -> tuple[int, list[str]]:
    """ALICE's and BOB's digests sent to a relay that answers MAIL FROM with `reply`: how many
    times it was asked, and the error each pending digest records."""
    setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")
    with serving(RefusesTheSender(mail_reply=reply)) as smtp:
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send", expect=1)
        assert smtp.messages == []
    records = ledger(workdir.db)
    assert [r.status for r in records] == ["pending"] * 2
    return smtp.handler.mails, [r.last_error or "" for r in records]


def test_a_sender_refused_for_now_is_still_tried_for_each_digest(workdir):
    mails, errors = send_refused(workdir, "451 4.3.0 try again later")
    assert mails == 2 and all("SMTP error: 451 4.3.0" in e for e in errors), errors


# --- a template of the user's folder that leaves out the unsubscribe link -----------------


def without_unsubscribe(workdir) -> None:
    """The default email templates, copied into the workdir's folder minus their unsubscribe link."""
    folder = workdir.path / "my-templates"
    folder.mkdir()
    html = (TEMPLATES / "digest.html").read_text()
    html = html.replace(UNSUBSCRIBE_HTML, "")
    text = (TEMPLATES / "digest.txt").read_text().replace("Unsubscribe: {{ unsubscribe_url }}\n", "")
    assert "{{ unsubscribe_url }}" not in html + text
    (folder / "digest.html").write_text(html)
    (folder / "digest.txt").write_text(text)


TEMPLATES = Path(__file__).parent.parent / "templates"
UNSUBSCRIBE_HTML = '    {% if unsubscribe_url %}<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> from this digest.</p>{% endif %}\n'


def test_check_warns_of_an_email_template_that_shows_no_unsubscribe_link(workdir, monkeypatch):
    monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.example.org")
    monkeypatch.setenv("DIGESTBOT_SECRET", "s3cret-s3cret-s3cret")
    setup(workdir, [IMITATION], ALICE)
    result = digestbot(workdir, "check")
    assert "unsubscribe" not in result.output  # the defaults show it
    without_unsubscribe(workdir)
    setup(workdir, [IMITATION], ALICE, extra_yaml="templates: my-templates/")
    result = digestbot(workdir, "check")
    folder = workdir.path / "my-templates"
    assert f"warning: {folder / 'digest.html'}: the HTML part shows no unsubscribe link" in result.output
    assert f"warning: {folder / 'digest.txt'}: the plain-text part shows no unsubscribe link" in result.output
    assert "{% if unsubscribe_url %}" in result.output
    monkeypatch.delenv("DIGESTBOT_SECRET")  # no links to show: nothing to warn of
    monkeypatch.delenv("DIGESTBOT_BASE_URL")
    assert "unsubscribe link" not in digestbot(workdir, "check").output


# --- a message bigger than the relay takes ------------------------------------------------


@dataclass
class SizeLimited(RecordingHandler):
    """`quiet_size`: advertise no SIZE, as a relay whose filter refuses by size all the same
    (552 at the end of the message)."""

    quiet_size: bool = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        responses = await super().handle_EHLO(server, session, envelope, hostname, responses)
        return [r for r in responses if not (self.quiet_size and "SIZE" in r)]


def big_digest(workdir) -> None:
    papers = [
        FeedPaper(f"2501.{30000 + i}", f"Imitation learning, study {i}", "We study imitation learning. " * 40)
        for i in range(30)
    ]
    setup(workdir, [*papers, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")


def test_a_digest_bigger_than_the_relays_size_is_not_sent_and_says_how_big_and_what_to_raise(workdir):
    big_digest(workdir)
    with serving(SizeLimited(), data_size_limit=20_000) as smtp:
        workdir.use_smtp(smtp.url)
        result = digestbot(workdir, "send", expect=1)
        assert [m.rcpt_tos for m in smtp.messages] == [("bob@example.org",)]  # the small one goes
    [alice] = ledger(workdir.db, status="pending")
    error = alice.last_error or ""
    assert alice.subscriber_id == "alice" and "takes messages of at most 20 KB (its SIZE)" in error, error
    assert re.search(r"this digest is \d+ KB: raise the server's message size limit", error), error
    assert "message_size_limit" in result.output
    with serving(SizeLimited(), data_size_limit=10_000_000) as smtp:  # the admin raised it
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send", "--force")
        assert [m.rcpt_tos for m in smtp.messages] == [("alice@example.org",)]
    assert [r.status for r in ledger(workdir.db)] == ["sent", "sent"]


def test_a_552_to_the_message_says_how_big_it_was_and_what_to_raise(workdir):
    big_digest(workdir)
    with serving(SizeLimited(quiet_size=True), data_size_limit=20_000) as smtp:
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send", expect=1)
    [alice] = ledger(workdir.db, status="pending")
    error = alice.last_error or ""
    assert error.startswith("SMTP error: 552") and "raise the server's message size limit" in error, error


# --- a relay whose certificate this machine does not trust --------------------------------

certificate = test_mail_headers.certificate  # the fixture: a self-signed certificate for 127.0.0.1


@pytest.mark.parametrize("login", [False, True], ids=["starttls=require", "login"])
def test_an_untrusted_certificate_says_so_and_how_to_trust_a_private_ca(workdir, certificate, login):
    test_mail_headers.setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    with test_mail_headers.server(certificate) as smtp:
        url = f"smtp://me:pw@{smtp.host}:{smtp.port}" if login else f"{smtp.url}?starttls=require"
        workdir.use_smtp(url)
        result = digestbot(workdir, "send", expect=1)
        assert smtp.messages == []
        for record in ledger(workdir.db):
            error = record.last_error or ""
            assert record.status == "pending" and "cannot reach" not in error, error
            assert "TLS failed: certificate verify failed: self-signed certificate" in error, error
            assert "point SSL_CERT_FILE at its certificate" in error, error
        assert result.output.count("SSL_CERT_FILE") == 2
        workdir.monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # what the message says to do
        workdir.use_smtp(url.replace("me:pw@", ""))  # (aiosmtpd here takes no login)
        digestbot(workdir, "send", "--force")
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["alice@example.org", "bob@example.org"]


def test_a_relay_that_wants_a_login_first_says_to_put_one_in_the_url_not_to_change_email_from(workdir):
    mails, errors = send_refused(workdir, "530 5.7.0 Authentication required")
    assert mails == 1
    for error in errors:
        assert "refused the sender: 530 5.7.0 Authentication required" in error, error
        assert "put its user name and password in DIGESTBOT_SMTP_URL" in error and "email.from" not in error


# --- a login outside ASCII ----------------------------------------------------------------

PASSWORD = "pässwörd"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_password_outside_ascii_logs_in_as_utf8(workdir, mechanism):
    logins = []

    def check(server, session, envelope, used, auth_data):
        login, password = (v.decode("utf-8") if isinstance(v, bytes) else v for v in auth_data)
        logins.append((used, login, password))
        return AuthResult(success=password == PASSWORD, handled=False)

    setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")
    other = [m for m in ("PLAIN", "LOGIN") if m != mechanism]
    with serving(
        RecordingHandler(), authenticator=check, auth_require_tls=False, auth_exclude_mechanism=other
    ) as smtp:
        outputs = []
        for password, expect in (("wrông", 1), (PASSWORD, 0)):
            workdir.use_smtp(f"smtp://j%C3%BCrgen:{quote(password)}@{smtp.host}:{smtp.port}?starttls=off")
            outputs.append(digestbot(workdir, "send", "--force", expect=expect).output)
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["alice@example.org", "bob@example.org"]
    # a wrong one is refused once per run, saying what to check (was: "unexpected error:
    # UnicodeEncodeError: 'ascii' codec can't encode character", one connection per digest)
    assert logins == [(mechanism, "jürgen", "wrông"), (mechanism, "jürgen", PASSWORD)]
    assert (
        outputs[0].count("SMTP login failed: 535") == 2 and "check the user name and password" in outputs[0]
    )
    assert [r.status for r in ledger(workdir.db)] == ["sent", "sent"]
