"""Email transports: SMTP (one connection per batch) and the outbox folder (.eml files)."""

from __future__ import annotations

import base64
import contextlib
import errno
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from ..text import split_url
from . import DeliveryError
from .message import OutgoingEmail, envelope_address, needs_smtputf8

SMTP_TIMEOUT = 30.0  # seconds per socket operation (DIGESTBOT_SMTP_TIMEOUT)
log = logging.getLogger(__name__)


STARTTLS_MODES = ("require", "auto", "off")


@dataclass(frozen=True)
class SmtpSettings:
    """DIGESTBOT_SMTP_URL, read. `smtps://` is TLS from the start. `smtp://` upgrades with
    STARTTLS: required (the certificate verified) with a login or on port 587, else whenever the
    server offers it (`auto`: opportunistic, RFC 7435, so a relay with a self-signed certificate
    still gets the mail encrypted). `?starttls=require|auto|off` overrides that, `?ehlo=NAME`
    sets the name digestbot greets with (default: this machine's FQDN). The password is never shown."""

    host: str
    port: int
    tls: bool
    starttls: str  # require | auto | off ("off" for smtps://, which is TLS already)
    username: str | None
    password: str | None
    ehlo: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Read DIGESTBOT_SMTP_URL; raises ValueError (never quoting the password) if it cannot
        be read one way only."""
        scheme, userinfo, hostport = split_url(url)
        if scheme not in ("smtp", "smtps"):
            raise ValueError(SMTP_URL_FORMAT)
        hostport, _, query = hostport.partition("?")
        options = _options(query)
        if userinfo is not None and any(c in userinfo for c in "/?#"):
            # The last `@` ends the user info, so an `@` in it is clear; these are not.
            raise ValueError(
                "DIGESTBOT_SMTP_URL cannot be read unambiguously: percent-encode the characters "
                "/ ? # in the user name and password (as %2F %3F %23; also @ as %40 and, in the "
                "user name, : as %3A), e.g. smtp://me%40example.org:p%2Fss@host:587"
            )
        m = _HOST_PORT_RE.match(hostport)
        port = int(m.group("port")) if m and m.group("port") else None
        if m is None or (port is not None and not 0 < port < 65536):
            raise ValueError(SMTP_URL_FORMAT)
        user, colon, password = (userinfo or "").partition(":")
        tls = scheme == "smtps"
        port = port or (465 if tls else 587 if user else 25)
        starttls = "off" if tls else "require" if port == 587 or user else "auto"
        if "starttls" in options:
            if tls:
                raise ValueError(
                    "DIGESTBOT_SMTP_URL: starttls= is for smtp:// (smtps:// is TLS from the start)"
                )
            starttls = options["starttls"]
        return cls(
            host=m.group("host").strip("[]"),
            port=port,
            tls=tls,
            starttls=starttls,
            username=unquote(user) if user else None,
            password=unquote(password) if colon else None,
            ehlo=options.get("ehlo"),
        )

    def describe(self) -> str:
        user = f"{quote(self.username, safe='')}:***@" if self.username else ""
        return f"{'smtps' if self.tls else 'smtp'}://{user}{self.host}:{self.port}"


SMTP_URL_FORMAT = "DIGESTBOT_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465"
_EHLO_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
    r"|^\[(?:\d{1,3}\.){3}\d{1,3}\]$|^\[IPv6:[0-9A-Fa-f:.]+\]$"
)


def _options(query: str) -> dict[str, str]:
    """`?starttls=…&ehlo=…` of DIGESTBOT_SMTP_URL, checked (ValueError says what is wrong)."""
    options: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, eq, value = pair.partition("=")
        value = unquote(value)
        if (key == "starttls" and eq and value in STARTTLS_MODES) or (
            key == "ehlo" and eq and len(value) <= 255 and _EHLO_RE.match(value)
        ):
            options[key] = value
        elif key in ("starttls", "ehlo"):
            expected = "require, auto or off" if key == "starttls" else "a host name such as mail.example.org"
            raise ValueError(f"DIGESTBOT_SMTP_URL: {key}= must be {expected}")
        else:
            raise ValueError(f"DIGESTBOT_SMTP_URL: unknown option {key!r} (known: starttls, ehlo)")
    return options


_HOST_PORT_RE = re.compile(r"^(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?/?$")


class SmtpTransport:
    """Sends messages over one SMTP connection, opened on first use and reopened if dropped.

    A circuit breaker: once the server stalls, refuses the connection or turns it away (a
    timeout, ECONNREFUSED, a 4xx/5xx greeting or EHLO, failed login), it is not tried again
    by this transport, so the rest of a batch fails at once (kept, retried by a later run)
    instead of waiting out a timeout per digest.
    """

    def __init__(
        self, settings: SmtpSettings, timeout: float = SMTP_TIMEOUT, context: ssl.SSLContext | None = None
    ):
        self.settings = settings
        self.timeout = timeout
        self.context = context or ssl.create_default_context()
        # Opportunistic STARTTLS (auto) encrypts without checking the certificate: better than
        # plain text against a passive listener, and it never fails where plain text worked.
        self.opportunistic = ssl.create_default_context()
        self.opportunistic.check_hostname = False
        self.opportunistic.verify_mode = ssl.CERT_NONE
        self._conn: smtplib.SMTP | None = None
        self.unavailable: str | None = None  # why the breaker is open, once it is

    @property
    def name(self) -> str:
        return self.settings.describe()

    def _connect(self, plain: bool = False) -> smtplib.SMTP:
        """Connect, greet, upgrade to TLS as the settings say, log in. `plain`: no STARTTLS
        (the retry after an opportunistic upgrade failed)."""
        s = self.settings
        try:
            if s.tls:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=s.ehlo, timeout=self.timeout, context=self.context
                )
            else:
                conn = smtplib.SMTP(s.host, s.port, local_hostname=s.ehlo, timeout=self.timeout)
        except ssl.SSLError as e:
            if s.tls and e.reason == "WRONG_VERSION_NUMBER":  # "220 …" where a TLS hello should be
                raise WrongScheme(
                    "answered in plain text, not TLS: a port that takes STARTTLS (587, 25) needs"
                    f" smtp://, not smtps:// ({_why(e)})"
                ) from None
            raise
        except smtplib.SMTPServerDisconnected as e:
            if not s.tls and _timed_out(e):  # connected, then silence: it waits for a TLS hello
                raise NoGreeting(
                    f"it took the connection but sent no greeting in {self.timeout:g} s; a port that"
                    " takes TLS from the start (465) needs smtps://, not smtp://"
                ) from None
            raise
        try:
            # Commands are small writes: without this, Nagle's algorithm holds them back.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _ehlo(conn)
            if s.starttls == "require" and not conn.has_extn("starttls"):
                raise Unsupported(
                    "does not offer STARTTLS, which this connection requires"
                    " (a login, port 587 or starttls=require)"
                )
            if s.starttls == "require":
                conn.starttls(context=self.context)
                _ehlo(conn)
            elif (
                s.starttls == "auto"
                and conn.has_extn("starttls")
                and not plain
                and not self._opportunistic(conn)
            ):
                conn.close()
                return self._connect(plain=True)
            if s.username and not conn.has_extn("auth"):
                raise Unsupported(
                    "offers no login (AUTH)"
                    + (
                        " over this connection, which is not encrypted"
                        if not isinstance(conn.sock, ssl.SSLSocket)
                        else ""
                    )
                    + ": remove the user name and password from DIGESTBOT_SMTP_URL if it takes mail"
                    " without one, or enable SMTP AUTH on the server"
                )
            if s.username:
                _login(conn, s.username, s.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def _opportunistic(self, conn: smtplib.SMTP) -> bool:
        """STARTTLS where the server offers it and nothing requires it (RFC 7435): False when
        the handshake failed, and the mail then goes in plain text, as it would without it."""
        try:
            conn.starttls(context=self.opportunistic)
            _ehlo(conn)
            return True
        except (ssl.SSLError, smtplib.SMTPResponseException, smtplib.SMTPServerDisconnected) as e:
            log.warning(
                "STARTTLS with %s failed (%s): sending in plain text (starttls=require refuses that)",
                self.name,
                _why(e),
            )
            return False

    def _open(self) -> smtplib.SMTP:
        """A new connection, or DeliveryError with the breaker open."""
        try:
            return self._connect()
        except smtplib.SMTPAuthenticationError as e:
            failed = _reply("SMTP login failed", e.smtp_code, e.smtp_error)
            if 400 <= e.smtp_code < 500:  # 454: the server cannot check logins just now (RFC 4954)
                fix = f"the server {self.name} could not check the login for now; a later run tries again"
                raise self._trip(failed, reason=f"{failed} ({_now()}): {fix}") from None
            fix = f"check the user name and password in DIGESTBOT_SMTP_URL ({self.name})"
            raise self._trip(failed, reason=f"{failed} ({_now()}): {fix}") from None
        except smtplib.SMTPResponseException as e:
            raise self._trip(_reply("answered", e.smtp_code, e.smtp_error)) from None
        except WrongScheme as e:
            raise self._trip(str(e), reason=f"SMTP server {self.name} {e} ({_now()})") from None
        except NoGreeting as e:
            stalled = f"cannot reach SMTP server {self.name}: unavailable (stalled at {_now()})"
            raise self._trip("stalled", reason=f"{stalled}: {e}") from None
        except ssl.SSLCertVerificationError as e:  # reached: "cannot reach" would send one to the network
            untrusted = f"TLS failed: certificate verify failed: {e.verify_message or e.reason}"
            fix = "the certificate is not trusted: fix it on the server, or for a private CA point SSL_CERT_FILE at its certificate"
            raise self._trip(
                untrusted, reason=f"SMTP server {self.name}: {untrusted} ({_now()}): {fix}"
            ) from None
        except Unsupported as e:  # reached, and it answered: what it lacks is the message
            reason = f"SMTP server {self.name} {e} ({_now()})"
            raise self._trip(str(e), reason=reason) from None
        except (OSError, smtplib.SMTPException) as e:
            raise self._trip(_why(e)) from None

    def send(self, msg: OutgoingEmail) -> str:
        """Send one message; returns where it went. Raises DeliveryError on refusal or failure."""
        if self.unavailable:
            raise DeliveryError(self.unavailable)
        recipient = msg.recipient
        for attempt in (1, 2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._open()
            if msg.smtputf8 and not self._conn.has_extn("smtputf8"):
                raise DeliveryError(
                    f"the address {recipient if not recipient.isascii() else msg.sender} is not ASCII and "
                    f"SMTP server {self.name} does not offer SMTPUTF8 (RFC 6531), which it needs: "
                    "enable SMTPUTF8 on the server (Postfix: smtputf8_enable = yes) or use an ASCII address",
                )
            limit = _size_limit(self._conn)
            if limit and len(msg.data) > limit:  # the server said so in EHLO: not sent to be refused
                raise DeliveryError(
                    f"SMTP server {self.name} takes messages of at most {_kb(limit)} (its SIZE){_too_big(msg)}"
                )
            try:
                _transaction(self._conn, msg)
                return f"{recipient} via {self.name}"
            except Unconfirmed as e:
                raise self._unconfirmed(recipient, str(e)) from None
            except smtplib.SMTPServerDisconnected as e:
                self._drop()
                if _timed_out(e):
                    raise self._trip("stalled") from None
                if not reused or attempt == 2:  # not an idle connection the server let go
                    raise DeliveryError(f"SMTP server disconnected: {e}") from None
            except smtplib.SMTPRecipientsRefused as e:
                code, text = next(iter(e.recipients.values()))
                if code == 421:  # the server closes the connection with that answer
                    self._drop()
                raise _refused(recipient, code, text) from None
            except smtplib.SMTPResponseException as e:
                self._drop()
                if (
                    isinstance(e, smtplib.SMTPSenderRefused)
                    and e.smtp_code == 421
                    and reused
                    and attempt == 1
                ):
                    continue  # an idle connection the server let go saying so (Postfix: timeout exceeded)
                if isinstance(e, smtplib.SMTPSenderRefused) and 500 <= e.smtp_code < 600 and not msg.smtputf8:
                    raise self._sender_refused(msg.sender, e) from None
                big = _too_big(msg) if isinstance(e, smtplib.SMTPDataError) and e.smtp_code == 552 else ""
                raise DeliveryError(_reply("SMTP error", e.smtp_code, e.smtp_error) + big) from None
            except (OSError, smtplib.SMTPException) as e:
                self._drop()
                raise self._trip(_why(e)) from None
        raise AssertionError("unreachable")

    def _sender_refused(self, sender: str, error: smtplib.SMTPSenderRefused) -> DeliveryError:
        """A permanent refusal of MAIL FROM (no parameters, before any recipient): every digest
        has that sender, so the rest of the run would be refused the same way."""
        refused = _reply("refused the sender", error.smtp_code, error.smtp_error)
        fix = "set email.from in the YAML to an address this server (and its login) may send as"
        if error.smtp_code == 530:  # RFC 4954: authentication required (or STARTTLS first)
            fix = (
                "the server takes mail only after a login: put its user name and password in DIGESTBOT_SMTP_URL"
                " (smtp://user:password@host:587)"
                if not self.settings.username
                else "the server wants a login or STARTTLS first: check DIGESTBOT_SMTP_URL's starttls= option"
            )
        return self._trip(refused, reason=f"SMTP server {self.name} {refused} ({_now()}): {fix}")

    def _unconfirmed(self, recipient: str, why: str) -> DeliveryError:
        """The message went out whole but the server's answer never came: it may have arrived,
        so it is not sent again in this run (a later run tries once more, same Message-ID). A
        server that stalls is not tried again this run either."""
        self._drop()
        error = (
            f"possibly delivered: SMTP server {self.name} {why} after receiving the whole message"
            f" to {recipient}, before confirming it ({_now()}); not sent again now, a later run"
            " sends it once more with the same Message-ID"
        )
        if why == "timed out":
            self._trip("stalled")  # the breaker: the rest of the run keeps off this server
        return DeliveryError(error, unconfirmed=True)

    def _trip(self, why: str, reason: str | None = None) -> DeliveryError:
        """Open the breaker: this and every later message of the batch fail, saying why."""
        self._drop()
        reason = reason or f"cannot reach SMTP server {self.name}: unavailable ({why} at {_now()})"
        self.unavailable = f"{reason}; not tried again this run"
        log.warning("%s: the remaining email digests are kept for a later run", self.unavailable)
        return DeliveryError(self.unavailable)

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self._drop()


class WrongScheme(smtplib.SMTPException):
    """The server speaks TLS where plain SMTP was expected, or the other way round."""


class NoGreeting(smtplib.SMTPException):
    """The server took the connection and said nothing (the words say what that may mean)."""


class Unsupported(smtplib.SMTPNotSupportedError):
    """The server lacks what the settings need (STARTTLS, AUTH); the words follow its name."""


def _ehlo(conn: smtplib.SMTP) -> None:
    """EHLO (HELO for a server without ESMTP, as RFC 5321 asks), raising on a refusal such as
    421 (smtplib's ehlo() only returns the code, and the next command then fails)."""
    code, reply = conn.ehlo()
    if 500 <= code < 600:
        code, reply = conn.helo()
    if not 200 <= code < 300:
        raise smtplib.SMTPHeloError(code, reply)


def _login(conn: smtplib.SMTP, user: str, password: str) -> None:
    """Log in. A user name or password outside ASCII goes as UTF-8 (RFC 4616; LOGIN as the
    servers read it), which smtplib's login cannot send (it encodes them as ASCII)."""
    if (user + password).isascii():
        conn.login(user, password)
        return
    offered = conn.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in offered:
        code, reply = conn.docmd("AUTH", "PLAIN " + _b64(f"\0{user}\0{password}"))
    elif "LOGIN" in offered:
        code, reply = conn.docmd("AUTH", f"LOGIN {_b64(user)}")
        if code == 334:
            code, reply = conn.docmd(_b64(password))
    else:
        raise Unsupported(
            "offers neither AUTH PLAIN nor AUTH LOGIN, which a user name or password outside ASCII needs"
        )
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _size_limit(conn: smtplib.SMTP) -> int:
    """The largest message the server takes, as its EHLO says (RFC 1870 SIZE; 0: no limit)."""
    value = conn.esmtp_features.get("size", "").strip()
    return int(value) if value.isdigit() else 0


def _kb(size: int) -> str:
    return f"{size / 1000:,.0f} KB" if size >= 1000 else f"{size} bytes"


def _too_big(msg: OutgoingEmail) -> str:
    """What to do about a message the server finds too big (552 to the message, or its SIZE)."""
    return (
        f"; this digest is {_kb(len(msg.data))}: raise the server's message size limit (Postfix:"
        " message_size_limit), and it goes on the next try (a lower max_papers makes later digests smaller)"
    )


def _now() -> str:
    return time.strftime("%H:%M UTC", time.gmtime())


def _timed_out(error: BaseException) -> bool:
    """Whether `error` is, or was raised while handling, a socket timeout (smtplib turns a read
    timeout into SMTPServerDisconnected)."""
    return isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError)


def _why(error: BaseException) -> str:
    """A few words on why a connection failed, for the breaker's message."""
    if _timed_out(error):
        return "stalled"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or error}"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "closed the connection"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


_LEADING_DOT = re.compile(rb"(?m)^\.")


class Unconfirmed(Exception):
    """The whole message reached the server, then its answer was lost (the connection closed or
    stalled): the message may have been delivered."""


def _transaction(conn: smtplib.SMTP, msg: OutgoingEmail) -> None:
    """MAIL, RCPT, DATA and the message. With PIPELINING (RFC 2920, which Postfix, Exim and the
    big providers offer) the three commands go in one write: one round trip instead of three,
    per message. Raises smtplib's exceptions, as `sendmail` does, and Unconfirmed when the
    answer to the message itself never came."""
    if conn.has_extn("pipelining"):
        utf8 = " SMTPUTF8 BODY=8BITMIME" if msg.smtputf8 else ""
        conn.send(f"MAIL FROM:<{msg.sender}>{utf8}\r\nRCPT TO:<{msg.recipient}>\r\nDATA\r\n".encode())
        mail, rcpt, data = _replies(conn, 3)
    else:  # one command at a time, each only after the one before was taken
        mail = conn.mail(msg.sender, ["SMTPUTF8", "BODY=8BITMIME"] if msg.smtputf8 else [])
        rcpt = conn.rcpt(msg.recipient) if mail[0] == 250 else (0, b"")
        data = conn.docmd("DATA") if rcpt[0] in (250, 251) else (0, b"")
    if mail[0] != 250 or rcpt[0] not in (250, 251) or data[0] != 354:
        _abandon(conn, ended=data[0] == 354)
        if mail[0] != 250:
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], msg.sender)
        if rcpt[0] not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({msg.recipient: rcpt})
        raise smtplib.SMTPDataError(data[0], data[1])
    body = _LEADING_DOT.sub(b"..", msg.data)
    conn.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")  # cut short: not delivered
    try:
        code, reply = conn.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        raise Unconfirmed("timed out" if _timed_out(e) else "closed the connection") from e
    if code != 250:
        _abandon(conn)
        raise smtplib.SMTPDataError(code, reply)


def _replies(conn: smtplib.SMTP, n: int) -> list[tuple[int, bytes]]:
    """The answers to `n` pipelined commands. A server that refuses one and closes the
    connection (421) leaves the rest unanswered: they come back as (0, b"") so that the refusal
    is what gets reported, not the disconnect."""
    replies: list[tuple[int, bytes]] = []
    while len(replies) < n:
        try:
            replies.append(conn.getreply())
        except smtplib.SMTPServerDisconnected:
            if not replies or 200 <= replies[-1][0] < 400:
                raise
            replies += [(0, b"")] * (n - len(replies))
    return replies


def _abandon(conn: smtplib.SMTP, ended: bool = False) -> None:
    """Reset the session after a refusal (`ended`: the server took DATA although MAIL or RCPT
    failed, so an empty message ends it first). A server that closed the connection with its
    refusal (421) is let go: the refusal, not the disconnect, is what happened."""
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        if ended:
            conn.send(b".\r\n")
            conn.getreply()
        conn.rset()


def _refused(recipient: str, code: int, text: bytes | str) -> DeliveryError:
    """A refused recipient. A permanent refusal of the address itself (5.1.x in RFC 3463: no
    such mailbox, no such domain) is not to be repeated as it was (RFC 5321, 4.2.1): the digest
    waits for the address to change. Any other (a 4xx, or 5.7.1 relaying denied: the relay's
    set-up, the same for every recipient) may pass later."""
    reply = _reply("recipient refused", code, text)
    if not (500 <= code < 600 and _ADDRESS_STATUS.match(_text(text))):
        return DeliveryError(reply)
    return DeliveryError(
        f"{reply}: the server says {recipient} cannot receive mail; fix the subscriber's email"
        " (the digest waits for the new address, or is tried once more a day after it was made)",
        address_refused=True,
    )


_ADDRESS_STATUS = re.compile(r"5\.1\.\d{1,3}\b")  # RFC 3463: class 5 (permanent), subject 1 (addressing)


def _text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def _reply(what: str, code: int, text: bytes | str) -> str:
    return f"{what}{'' if what == 'answered' else ':'} {code} {_text(text)}".strip()


class OutboxTransport:
    """Writes each message as an .eml file a mail client opens (used when no SMTP is set).

    A file is written under a temporary name that no mail client or script takes for a message
    (`.tmp-HOST-PID-….part`), then put in place under its own name, never over another
    message's file. The temporary file of a writer that was killed is removed by the next."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._swept = False

    @property
    def name(self) -> str:
        return f"outbox {self.folder}"

    def write(self, stem: str, data: bytes, suffix: str) -> Path:
        """Write atomically (temporary file, then rename): no half-written file is ever seen,
        nor left behind when the write fails (a full disk). A name already taken by another
        message (another database's digest, a file of the operator's) is left alone: this one
        gets `STEM-2`, `STEM-3`…; taken by this very message (a retry), it is replaced."""
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._sweep()
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=_temp_prefix(), suffix=_TEMP_SUFFIX)
            _WRITING.add(os.path.abspath(tmp))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # on disk before the ledger says sent (a power cut after)
            target = _place(Path(tmp), self.folder, stem, suffix, data)
            _WRITING.discard(os.path.abspath(tmp))
            tmp = None
            _sync_folder(self.folder)  # and its name too, as Maildir writers do
            return target
        except OSError as e:
            if tmp is not None:
                _WRITING.discard(os.path.abspath(tmp))
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise DeliveryError(
                f"cannot write to outbox {self.folder}: {e.strerror or e}{_outbox_fix(e)}"
            ) from None

    def send(self, msg: OutgoingEmail, stem: str) -> str:
        return str(self.write(stem, msg.data, ".eml"))

    def close(self) -> None:
        pass

    def _sweep(self) -> None:
        """Remove the temporary files writers left when they died (once per transport): those
        of a process of this machine that no longer runs, and any a day old."""
        if self._swept:
            return
        self._swept = True
        for path in self.folder.glob(".tmp-*"):  # (older versions named them .tmp-….eml)
            with contextlib.suppress(OSError):
                if _abandoned(path):
                    path.unlink()


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a file system that cannot sync a folder is left be)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_WRITING: set[str] = set()  # this process's temporary files being written (by any thread)
_TEMP_SUFFIX = ".part"  # not .eml nor .json: nothing that reads the outbox takes it for a message
_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:40] or "host"


def _temp_prefix() -> str:
    return f".tmp-{_HOST}-{os.getpid()}-"


def _abandoned(path: Path) -> bool:
    """Whether a temporary outbox file is a dead writer's: a day old, or of a process of this
    machine that is gone (another machine's writer, sharing the folder, may still be at it)."""
    if time.time() - path.stat().st_mtime > 86400:
        return True
    if not path.name.endswith(_TEMP_SUFFIX):
        return False
    host, _, pid = path.name[len(".tmp-") :].rpartition("-")[0].rpartition("-")
    if host != _HOST or not pid.isdigit():
        return False
    if int(pid) == os.getpid():  # this process's number, which a dead writer may have had before
        return os.path.abspath(path) not in _WRITING
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether it exists
    except ProcessLookupError:
        return True
    except OSError:  # it runs, as another user
        return False
    return False


def _place(tmp: Path, folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Give the written file `tmp` its name: `STEM+suffix`, or the first free `STEM-N+suffix`
    when another message has it; the same message there already is replaced."""
    for n in range(1, 1000):
        target = folder / f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
        try:
            os.link(tmp, target)  # fails if the name is taken: nothing is ever overwritten
        except FileExistsError:
            if _same_message(target, data):
                os.replace(tmp, target)
                return target
            continue
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            if target.exists() and not _same_message(target, data):  # no hard links here
                continue
            os.replace(tmp, target)
            return target
        os.unlink(tmp)
        return target
    raise FileExistsError(errno.EEXIST, f"{stem}{suffix} and 998 more names are taken")


def _same_message(path: Path, data: bytes) -> bool:
    """Whether the file at `path` holds the message `data` (the same Message-ID for mail; the
    same bytes otherwise): a retry of a message written before the crash that lost its record."""
    try:
        with open(path, "rb") as f:
            old = f.read(len(data) + 1 if not path.name.endswith(".eml") else 65536)
    except OSError:
        return False
    if path.name.endswith(".eml"):
        mine = _message_id(data)
        return mine is not None and mine == _message_id(old)
    return old == data


_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(<[^>\r\n]*>)")


def _message_id(data: bytes) -> bytes | None:
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    return found.group(1) if found else None


def _outbox_fix(error: OSError) -> str:
    """What to do about a failed outbox write, by its errno."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return ": free some space on that disk, or set DIGESTBOT_OUTBOX to a folder on another"
    if error.errno == errno.EFBIG:
        return ": the process's file size limit (ulimit -f, systemd LimitFSIZE=) is below this message's size; raise it"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ": let the user digestbot runs as write there, or set DIGESTBOT_OUTBOX to another folder"
    if error.errno in (errno.EEXIST, errno.ENOTDIR):
        return ": a file stands where the folder should be; DIGESTBOT_OUTBOX must name a folder"
    return ""


def deliverability_warnings(
    smtp_url: str | None,
    base_url: str | None,
    secret: str | None,
    addresses: tuple[str, ...] = (),
    sender: str | None = None,
) -> list[str]:
    """What stands between real mail and the inbox that the operator can fix (for `check` and
    `status`): no one-click unsubscribe where Gmail and Yahoo require it of bulk senders, an
    http base URL, with which RFC 8058 one-click cannot be offered, and addresses (the
    subscribers', and the sender's, which every digest carries) that only a server with
    SMTPUTF8 takes."""
    if not smtp_url:
        return []  # the outbox: nothing is mailed
    found = []
    utf8 = [a for a in addresses if needs_smtputf8(a)]
    for why, among in (
        ("not ASCII before the @", [a for a in utf8 if not a.rpartition("@")[0].isascii()]),
        ("a domain with no IDNA (xn--) spelling", [a for a in utf8 if a.rpartition("@")[0].isascii()]),
    ):
        if among:
            found.append(
                f"{', '.join(among[:5])}{' …' if len(among) > 5 else ''}: {why}, so only an SMTP server offering "
                "SMTPUTF8 takes it (Postfix: smtputf8_enable = yes); elsewhere that digest fails"
            )
    if sender and needs_smtputf8(sender):
        found.append(
            f"{envelope_address(sender)}: email.from is not ASCII (before the @, or a domain with no IDNA"
            " spelling), so only an SMTP server offering SMTPUTF8 takes any digest (Postfix:"
            " smtputf8_enable = yes); elsewhere every one fails"
        )
    if not (base_url and secret):
        return [
            *found,
            "email goes out over SMTP with no one-click unsubscribe: Gmail and Yahoo require it "
            "(RFC 8058) from bulk senders, and may file digests as spam. Set DIGESTBOT_BASE_URL "
            "(https) and DIGESTBOT_SECRET, and run digestbot serve there",
        ]
    if not base_url.lower().startswith("https://"):
        found.append(
            "DIGESTBOT_BASE_URL is http: RFC 8058 one-click unsubscribe requires https, so mail "
            "carries only a plain List-Unsubscribe link (no List-Unsubscribe-Post); serve it over https"
        )
    return found
