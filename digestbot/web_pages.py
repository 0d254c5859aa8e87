"""The self-service pages (on when the YAML has `web:`): sign up with double opt-in, manage a
digest, get a new manage link, and a live preview of what a profile would have sent.

- Every POST here carries a CSRF token bound to the session cookie (Flask-WTF); the cookie is
  HttpOnly, SameSite=Lax, and Secure when DIGESTBOT_BASE_URL is https.
- Links are signed for one purpose with an expiry (links.py): a confirmation link confirms one
  sign-up within 48 hours, a manage link signs the reader in (for SESSION_HOURS) within 30 days.
- Sign-up, "email me my link" and preview are rate-limited per client address and per email
  address, in the database (Store.hit), so the limits hold across processes. At most one
  confirmation per address per hour; nothing but that confirmation goes to an unconfirmed
  address.
- Per-address limits count the mailbox an address reaches (case, `+tags`, Gmail's dots make
  no new one), per-client limits an IPv6 client's /64.
- The answer to a sign-up or a link request is the same page whether or not the address is
  subscribed, and all the work that depends on the address (lookup, its limit, the sign-up,
  the mail) is done in the mail thread after it, so neither the page nor its timing tells who
  is subscribed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import Blueprint, Response, current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from itsdangerous import BadData, URLSafeTimedSerializer

from . import web_mail
from .collect import not_on_arxiv
from .digest import DigestRunner
from .links import CONFIRM, CONFIRM_MAX_AGE, MANAGE, MANAGE_MAX_AGE, manage_url, sign, unsign
from .models import Profile, Subscriber
from .store import Store, SubscriberState
from .web_context import CSRF_REFUSED, ctx, json_response, origin, request_store
from .web_forms import (
    DAYS,
    FREQUENCIES,
    MAX_PAPERS,
    client_key,
    form_values,
    mailbox_key,
    read_email,
    read_profile,
    zone_choices,
)

log = logging.getLogger(__name__)
pages = Blueprint("pages", __name__)

PREVIEW_DAYS = 7
PREVIEW_ID = "web:preview"  # a subscriber id no one has (YAML ids may not start with web:)
HOUR = 3600
# (events, seconds) per bucket kind
LIMITS = {
    "signup-ip": (10, HOUR),
    "link-ip": (10, HOUR),
    "link-email": (3, HOUR),
    "confirm-email": (1, HOUR),  # at most one confirmation per address per hour
    "preview-ip": (60, 600),
    "preview-email": (60, 600),
}


def _now() -> datetime:
    return datetime.fromtimestamp(ctx().clock(), UTC)


def _allowed(store: Store, kind: str, value: str, c=None, at: datetime | None = None) -> bool:
    """Count one `kind` event for `value` (a client address or an email, counted by the client
    network or the mailbox it stands for, kept only as a keyed hash) at `at` (default: now);
    False when that limit is reached. `c`: the app context, for the mail thread (which has no
    Flask context)."""
    c = c or ctx()
    limit, period = LIMITS[kind]
    if kind == "signup-ip" and c.config.web is not None:
        limit = c.config.web.signups_per_hour
    return store.hit(_bucket(c, kind, value), limit, period, at or datetime.fromtimestamp(c.clock(), UTC))


def _bucket(c, kind: str, value: str) -> str:
    who = client_key(value) if kind.endswith("-ip") else mailbox_key(value)
    key = hmac.new((c.env.secret or "").encode(), who.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{kind}:{key}"


def _give_back(c, kind: str, value: str, at: datetime) -> None:
    """Take back the `kind` event counted at `at` for a mail the relay turned away: the reader
    who asks again gets it, instead of waiting out a limit for a mail that never came."""
    with c.open_store() as store:
        store.unhit(_bucket(c, kind, value), at)


def _client() -> str:
    return request.remote_addr or "unknown"


def _too_many() -> Response:
    log.warning("rate limit reached for client %s on %s", _client(), request.path)
    if _wants_json():
        return json_response({"error": "too many requests"}, 429)
    return _page(
        "web/message.html",
        429,
        title="Too many requests",
        message="Too many requests came from your address. Please wait a while and try again.",
    )


def _posted_email() -> str:
    """The form's address as typed (cut short: read_email refuses anything this long)."""
    return str(request.form.get("email", ""))[:300]


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _page(template: str, status: int = 200, **values) -> Response:
    web = ctx().config.web
    return Response(
        render_template(template, signup=web.signup, allow_domains=web.allow_domains, **values),
        status,
        mimetype="text/html",
    )


def _form_page(
    values: dict,
    errors: dict | None = None,
    preview=None,
    status: int = 200,
    notice: str | None = None,
    fresh: bool = False,
) -> Response:
    """The sign-up form with `values`; `fresh`: not one coming back with what a reader chose,
    so the page's script may pick the browser's own timezone."""
    return _page(
        "web/signup.html",
        status,
        values=values,
        errors=errors or {},
        preview=preview,
        choices={**_choices(values), "browser_zone": fresh},
        notice=notice,
    )


EXPIRED_FORM = (
    "This form expired (a page is good for {hours} hours) or did not come from this site, so"
    " nothing was saved. What you typed is below: check it, then submit again."
)


def _from_this_site() -> bool:
    """Whether the browser says the post came from one of our pages (Origin, else Referer):
    from the public URL, DIGESTBOT_BASE_URL, not the request's Host, which a proxy in front
    may set to its own upstream's address (nginx does unless told otherwise)."""
    sent = request.headers.get("Origin") or request.headers.get("Referer") or ""
    public = origin(ctx().env.base_url or request.host_url)
    return bool(sent) and origin(sent) == public


CONFIRM_EXPIRED = "This page expired (a page is good for {hours} hours), so nothing was confirmed yet: press the button again."
PREVIEW_AGAIN = "This page had expired, so there is no preview yet: press Preview again."
PREVIEW_EXPIRED = "This page has expired, so the preview stopped: press Subscribe and the form comes back fresh, with what you typed."


@pages.before_request
def _same_site_post() -> None:
    """Over HTTPS a form's post must say it came from our pages (its Origin, else its Referer,
    as DIGESTBOT_BASE_URL): what Flask-WTF's strict check did with the Referer alone, which a
    browser set to send none never passed."""
    if request.method == "POST" and request.is_secure and not _from_this_site():
        raise CSRFError("The post did not come from this site (its Origin or Referer).")


@pages.errorhandler(CSRFError)
def _refused_form(error: CSRFError) -> Response:
    """A form refused by the CSRF check: the sign-up or manage form comes back filled with what
    was posted (escaped, as any value), with a fresh token and a note, so a reader who left the
    page open too long loses nothing they typed; a confirmation page comes back with a button
    that works. Nothing is saved or sent either way."""
    log.info("%s %s -> 400 (%s)", request.method, request.path, error.description)
    c, hours = ctx(), current_app.config["WTF_CSRF_TIME_LIMIT"] // HOUR
    hint = COOKIE_HINT if _cookie_not_kept() else ""
    note = EXPIRED_FORM.format(hours=hours) + hint
    if not _from_this_site():  # another site's post: its values are not shown as if they were ours
        return _page("web/message.html", 400, title="Sorry", message=CSRF_REFUSED)
    if request.endpoint == "pages.preview" and _wants_json():  # the page's live preview
        return json_response({"errors": {"form": PREVIEW_EXPIRED}}, 400)
    if request.endpoint == "pages.confirm" and (
        nonce := _confirm_nonce(token := str(request.form.get("t", "")))
    ):
        confirmed = request_store().signup_address(nonce) is None
        return _page(
            "web/confirm.html",
            400,
            token=token,
            confirmed=confirmed,
            note=CONFIRM_EXPIRED.format(hours=hours) + hint,
        )
    if request.endpoint in ("pages.subscribe", "pages.preview") and c.config.web.signup:
        values = read_profile(request.form, c.config, PREVIEW_ID).values
        again = {"errors": {"form": PREVIEW_AGAIN}} if request.endpoint == "pages.preview" else None
        return _form_page(values, preview=again, status=400, notice=note)  # (a preview lands there)
    state = _session_state()
    if request.endpoint in MANAGE_FORMS and state and _for_another_digest(state):
        return _other_digest(state)
    if request.endpoint == "pages.manage_save" and state and state.subscriber.origin == "web":
        sub = state.subscriber
        values = read_profile(request.form, c.config, sub.id, email=sub.email, base=sub).values
        return _manage_page(state, values, {}, 400, saved=note)
    return _page("web/message.html", 400, title="Sorry", message=CSRF_REFUSED)


COOKIE_HINT = (
    " Your browser sent this fresh page back without this site's cookie, which the forms need:"
    " if it happens again, allow cookies for this site."
)


def _cookie_not_kept() -> bool:
    """Whether a refused post came from a page still fresh (its form token signed by us within
    its hours) but without our session cookie: the browser keeps none (cookies blocked), which
    "this form expired" alone would leave the reader retrying for ever."""
    if current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        return False
    serializer = URLSafeTimedSerializer(current_app.secret_key, salt="wtf-csrf-token")  # Flask-WTF's
    try:
        serializer.loads(
            str(request.form.get("csrf_token", "")), max_age=current_app.config["WTF_CSRF_TIME_LIMIT"]
        )
    except BadData:
        return False
    return True


def _choices(values: dict) -> dict:
    default = ctx().config.default_timezone
    return {
        "frequencies": [(f, _frequency_label(f)) for f in FREQUENCIES],
        "timezones": zone_choices(values.get("timezone") or default),
        "default_timezone": default,
    }


def _frequency_label(f: str) -> str:
    if f in DAYS:
        return (
            "Weekly on "
            + ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[DAYS.index(f)]
        )
    return {"daily": "Every day", "weekdays": "Monday to Friday"}[f]


def _defaults() -> dict:
    config = ctx().config
    values = form_values(
        Subscriber(
            id="",
            profile=Profile(),
            schedule=config.default_schedule,
            timezone=config.default_timezone,
            max_papers=min(config.default_max_papers, MAX_PAPERS),
        )
    )
    if not values["frequency"]:
        values.update(frequency="daily", time="08:00")
    return values


# --- sign-up ----------------------------------------------------------------------------


@pages.get("/")
def index() -> Response:
    if not ctx().config.web.signup:
        return _page("web/closed.html")
    return _form_page(_defaults(), fresh=True)


@pages.post("/subscribe")
def subscribe() -> Response:
    c = ctx()
    if not c.config.web.signup:
        return _page("web/closed.html", 403)
    result = read_profile(request.form, c.config, "web:" + secrets.token_hex(8))
    email = result.subscriber.email if result.subscriber else ""
    if result.subscriber and not c.config.web.allows(email):
        result.errors["email"] = _domains_only()
    if result.errors:  # sends nothing: not one of the client's sign-ups an hour
        return _form_page(result.values, result.errors, status=400)
    if not _allowed(request_store(), "signup-ip", _client()):
        return _too_many()
    nonce = secrets.token_urlsafe(16)
    confirm_link = _url("pages.confirm_page", t=sign([nonce], c.env.secret, CONFIRM))
    _off_the_request(_sign_up_by_mail, result.subscriber, nonce, confirm_link)
    return _page("web/check_inbox.html", email=email)


def _domains_only() -> str:
    """Why an address outside the YAML's `web.allow_domains` cannot subscribe."""
    return "Only addresses at " + ", ".join(ctx().config.web.allow_domains) + " can subscribe."


def _url(endpoint: str, **query) -> str:
    """A link for a mail: the configured base URL (never the request's Host header), and the
    endpoint's path below it."""
    return ctx().env.base_url + url_for(endpoint, **query).removeprefix(request.script_root)


def _off_the_request(work, *args) -> None:
    """Run `work(app, context, *args)` in the mail thread. What depends on whether an address
    is known (looking it up, counting its limit, storing a sign-up, composing and sending the
    mail) is done there, after the answer: the answer, and its timing, are the same for every
    address. A failure is logged; the reader can ask again."""
    app = current_app._get_current_object()

    def run() -> None:
        try:
            with app.app_context():
                work(app.extensions["digestbot"], app.jinja_env, *args)
        except Exception:
            log.exception("web %s failed", work.__name__.strip("_").replace("_", " "))

    ctx().submit_mail(run)


def _sign_up_by_mail(c, jinja, sub: Subscriber, nonce: str, confirm_link: str) -> None:
    """A subscribed address gets its manage link (at most three an hour), any other one a
    confirmation (at most one an hour), keeping the sign-up until it is confirmed. A mail the
    relay turned away does not count."""
    email, at = sub.email or "", datetime.fromtimestamp(c.clock(), UTC)
    with c.open_store() as store:  # closed before the mail goes out: no store waits on SMTP
        known, send = _sign_up_mail(c, store, sub, nonce, at)
    if send == "manage":  # subscribed already: their manage link, not a second digest
        log.info("sign-up for %s, subscribed already (%s): manage link sent", email, known.subscriber.id)
        if not _mail_manage_link(c, jinja, known):
            _give_back(c, "link-email", email, at)
    elif send == "confirm":
        log.info("sign-up for %s: confirmation sent", email)
        if not _mail(c, jinja, email, "confirm", confirm_url=confirm_link, hours=CONFIRM_MAX_AGE // HOUR):
            _give_back(c, "confirm-email", email, at)
    elif known is not None:
        log.info("sign-up for %s: no mail (three manage links an hour at most)", email)
    else:
        log.info("sign-up for %s: no mail (one confirmation an hour at most)", email)


def _sign_up_mail(
    c, store: Store, sub: Subscriber, nonce: str, at: datetime
) -> tuple[SubscriberState | None, str]:
    """The subscriber already at the sign-up's address, and which mail it gets ("manage",
    "confirm" or "" for none, its limit reached, counted at `at`); a confirmation's sign-up is
    stored, or, with none to send, the one waiting gets this profile. All or nothing: a write
    the database refuses half-way leaves no count of a mail that was never sent."""
    with store.transaction():
        known = store.find_by_email(sub.email or "")
        if known is not None:
            return known, "manage" if _allowed(store, "link-email", sub.email or "", c, at) else ""
        if not _allowed(store, "confirm-email", sub.email or "", c, at):
            store.revise_signup(sub, at)  # the link sent already subscribes with this profile
            return None, ""
        store.save_signup(nonce, sub, at)
        return None, "confirm"


def _mail(c, jinja, to: str, kind: str, **values) -> bool:
    """Compose and send one page mail (in the mail thread); False when it was not sent."""
    message = web_mail.compose(kind, to, c.config, jinja, **values)
    return web_mail.send(message, c.env, kind, c.open_store) is not None


def _mail_manage_link(c, jinja, state: SubscriberState) -> bool:
    """The manage link goes to the address the subscription holds, never to the one typed: a
    lookup folds case (U+212A KELVIN SIGN is a "k" to lower()), and a variant that reaches the
    subscription may still be another mailbox. False when it was not sent."""
    sub = state.subscriber
    link = manage_url(c.env.base_url, sub.id, c.env.secret)
    return _mail(c, jinja, sub.email or "", "manage", manage_url=link, origin=sub.origin)


def _confirm_nonce(token: str) -> str | None:
    payload = unsign(token, ctx().env.secret, CONFIRM, CONFIRM_MAX_AGE, now=ctx().clock())
    if isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], str):
        return payload[0]
    return None


REPLACED_CONFIRM = (
    "This confirmation link was replaced by a newer one: use the link in the latest mail, or sign up again."
)
BAD_CONFIRM = "This confirmation link is not valid or has expired (links last 48 hours). Sign up again to get a new one."


@pages.get("/confirm")
def confirm_page() -> Response:
    """Shows a button and changes nothing: mail scanners follow links."""
    token = request.args.get("t", "")
    if (nonce := _confirm_nonce(token)) is None:
        return _page("web/message.html", 400, title="Link not valid", message=BAD_CONFIRM)
    store = request_store()
    if not store.signup_kept(nonce):  # said now, not after a press of a button that cannot work
        return _page("web/message.html", 400, title="Link not valid", message=REPLACED_CONFIRM)
    confirmed = store.signup_address(nonce) is None  # Back after confirming, the link opened again
    return _not_open(nonce) or _page("web/confirm.html", token=token, confirmed=confirmed)


def _not_open(nonce: str) -> Response | None:
    """The page that says why a sign-up waiting for its confirmation cannot be confirmed now:
    sign-up closed (`signup: false`), or its address outside a narrowed `allow_domains`, since
    it was mailed. None when it can (or is confirmed already: that opens the manage page)."""
    web = ctx().config.web
    if not (email := request_store().signup_address(nonce)):
        return None
    if not web.signup:
        return _page("web/closed.html", 403)
    if not web.allows(email):
        return _page("web/message.html", 403, title="Not open to this address", message=_domains_only())
    return None


@pages.post("/confirm")
def confirm() -> Response:
    nonce = _confirm_nonce(request.form.get("t", ""))
    if nonce is None:
        return _page("web/message.html", 400, title="Link not valid", message=BAD_CONFIRM)
    if closed := _not_open(nonce):
        return closed
    store = request_store()
    sub = store.confirm_signup(nonce, _now())
    taken = sub is not None and store.yaml_has_address(sub.email)
    if taken:  # the operator's YAML got the address meanwhile: that digest is the one
        log.info("web subscriber %s confirmed, off: subscriptions.yaml has the address", sub.id)
        return _page("web/message.html", 409, title="Subscribed already", message=TAKEN_OVER)
    if sub is None:
        return _page("web/message.html", 400, title="Link not valid", message=REPLACED_CONFIRM)
    log.info("web subscriber %s confirmed", sub.id)
    _sign_in(sub.id)
    return redirect(url_for("pages.manage", welcome=1), 303)


# --- manage -----------------------------------------------------------------------------


def _sign_in(sid: str) -> None:
    """Sign this browser in to `sid`'s digest. The session's form secret stays (the CSRF
    token's, which no other site can know or set): the forms open in other tabs (a sign-up
    form, another digest's page, which then says so) still post, instead of "expired"."""
    if session.get("sid") != sid:
        form_secret = session.get("csrf_token")
        session.clear()
        session["sid"] = sid
        if form_secret:
            session["csrf_token"] = form_secret
    session.permanent = True


MANAGE_FORMS = ("pages.manage_save", "pages.pause", "pages.resume", "pages.unsubscribe")
OTHER_DIGEST = (
    "That page was for another digest: this browser signed in to this one since (in another tab"
    " or window), so nothing was changed. To change the other digest, open its manage link again."
)


def _for_another_digest(state: SubscriberState) -> bool:
    """Whether the posted form came from the manage page of another digest than the one this
    browser is signed in to now (a page left open while another manage link signed in)."""
    posted = request.form.get("digest")
    return posted is not None and posted != state.subscriber.id


def _other_digest(state: SubscriberState) -> Response:
    log.info("%s %s -> 409 (a form of another digest's manage page)", request.method, request.path)
    return _manage_page(state, form_values(state.subscriber), {}, 409, saved=OTHER_DIGEST)


@pages.get("/manage/login")
def manage_login() -> Response:
    sid = unsign(request.args.get("t", ""), ctx().env.secret, MANAGE, MANAGE_MAX_AGE, now=ctx().clock())
    if not isinstance(sid, str):
        return _page(
            "web/link.html",
            400,
            values={},
            note="This manage link is not valid or has expired. Enter your address to get a new one.",
        )
    _sign_in(ctx().config.current_id(sid))  # a link an older version signed with a former id
    return redirect(url_for("pages.manage"), 303)


def _session_state() -> SubscriberState | None:
    """The subscriber this browser's session is signed in as, if any."""
    sid = session.get("sid")
    return request_store().subscriber(sid) if isinstance(sid, str) else None


def signed_in(view):
    """The view with the signed-in reader's subscriber state; else off to the link page."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        state = _session_state()
        if state is None:
            session.clear()
            return redirect(url_for("pages.link_page"), 303)
        if request.method == "POST" and _for_another_digest(state):
            return _other_digest(state)
        return view(state, *args, **kwargs)

    return wrapper


@pages.get("/manage")
@signed_in
def manage(state: SubscriberState) -> Response:
    sub = state.subscriber
    welcome = bool(request.args.get("welcome")) and sub.active and not sub.paused
    note = session.pop("note", None)  # what the change that redirected here did (`_done`)
    extra = {"saved": note} if isinstance(note, str) else {}
    return _manage_page(state, form_values(sub), {}, welcome=welcome, **extra)


def _done(note: str) -> Response:
    """After a change that worked, the manage page by a redirect (Post/Redirect/Get), saying
    `note`: Back to it, or a reload, shows the page again, where the answer to the POST itself
    (kept out of every cache) made the browser ask to send the form once more."""
    session["note"] = note
    return redirect(url_for("pages.manage"), 303)


def _manage_page(state: SubscriberState, values: dict, errors: dict, status: int = 200, **extra) -> Response:
    store = request_store()
    if _taken_over(store, state.subscriber):  # whatever else it says: this digest stays off
        extra.setdefault("saved", TAKEN_OVER)
    recent = [(d, store.digest_items(d.id, limit=3)) for d in store.recent_digests(state.subscriber.id, 10)]
    likes = state.subscriber.profile.likes
    unknown = not_on_arxiv(store) if likes else set()
    return _page(
        "web/manage.html",
        status,
        state=state,
        sub=state.subscriber,
        editable=state.subscriber.origin == "web",
        values=values,
        errors=errors,
        recent=recent,
        choices=_choices(values),
        unknown_likes=[a for a in likes if a in unknown],  # as /digest likes tells Slack readers
        **extra,
    )


@pages.post("/manage")
@signed_in
def manage_save(state: SubscriberState) -> Response:
    sub = state.subscriber
    if sub.origin != "web":
        return _manage_page(state, form_values(sub), {}, 403)
    store = request_store()
    if _taken_over(store, sub):  # the YAML's digest is the one this address gets
        return _manage_page(state, form_values(sub), {}, 409)
    result = read_profile(request.form, ctx().config, sub.id, email=sub.email, base=sub)
    if result.errors:
        return _manage_page(state, result.values, result.errors, 400)
    store.save_web_subscriber(result.subscriber, _now())
    log.info("web subscriber %s changed their profile", sub.id)
    return _done(_saved_note(store.subscriber(sub.id).subscriber))


def _saved_note(sub: Subscriber) -> str:
    """What a saved profile changes: the next digest, if one is to come."""
    if not sub.active:
        return "Saved. You are unsubscribed: press Subscribe again to get digests with it."
    if sub.paused:
        return "Saved: your next digest after you resume uses it."
    return "Saved: your next digest uses it."


def _taken_over(store: Store, sub: Subscriber) -> bool:
    """Whether this is a web digest kept off because the YAML has a subscriber for its address."""
    return sub.origin == "web" and not sub.active and store.yaml_has_address(sub.email)


TAKEN_OVER = (
    "Your address gets its digest from this server's subscriptions.yaml now (the operator's list),"
    " so this one stays off: one digest per address. Ask the operator to change that one."
)


def _set_state(state: SubscriberState, message: str, **changes) -> Response:
    sub = state.subscriber
    if sub.origin != "web":
        return _manage_page(state, form_values(sub), {}, 403)
    store = request_store()
    if changes.get("active") is True and store.yaml_has_address(sub.email):
        return _manage_page(state, form_values(sub), {}, 409, saved=TAKEN_OVER)
    if changes.get("active") is True and not sub.active and not ctx().config.web.allows(sub.email or ""):
        return _manage_page(state, form_values(sub), {}, 403, saved=_domains_only())
    store.save_web_subscriber(replace(sub, **changes), _now())
    log.info("web subscriber %s: %s", sub.id, message)
    return _done(message)


@pages.post("/manage/pause")
@signed_in
def pause(state: SubscriberState) -> Response:
    return _set_state(state, "Paused: no digests until you resume.", paused=True)


@pages.post("/manage/resume")
@signed_in
def resume(state: SubscriberState) -> Response:
    return _set_state(state, "Resumed: digests come on your schedule again.", paused=False, active=True)


@pages.post("/manage/unsubscribe")
@signed_in
def unsubscribe(state: SubscriberState) -> Response:
    return _set_state(state, "Unsubscribed: you will get no more digests.", active=False, paused=False)


@pages.post("/manage/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("pages.link_page"), 303)


# --- lost the link ----------------------------------------------------------------------


@pages.get("/manage/link")
def link_page() -> Response:
    return _page("web/link.html", values={}, note=None)


@pages.post("/manage/link")
def send_link() -> Response:
    errors: dict[str, str] = {}
    email = read_email(_posted_email(), errors)
    if errors:  # sends nothing: not one of the client's link requests an hour
        return _page("web/link.html", 400, values={"email": _posted_email()}, errors=errors, note=None)
    if not _allowed(request_store(), "link-ip", _client()):
        return _too_many()
    _off_the_request(_link_by_mail, email)
    return _page("web/check_inbox.html", email=email, link=True)


def _link_by_mail(c, jinja, email: str) -> None:
    """A known address gets its manage link (at most three an hour, counting those that were
    sent); any other one nothing."""
    at = datetime.fromtimestamp(c.clock(), UTC)
    with c.open_store() as store, store.transaction():  # a failed lookup counts no mail
        if not _allowed(store, "link-email", email, c, at):
            log.info("manage link asked for %s: no mail (three an hour at most)", email)
            return
        known = store.find_by_email(email) or store.find_by_email(email, origin="web", include_inactive=True)
    if known is not None:
        log.info("manage link asked for %s (%s): sent", email, known.subscriber.id)
        if not _mail_manage_link(c, jinja, known):
            _give_back(c, "link-email", email, at)


# --- preview ----------------------------------------------------------------------------


@pages.post("/preview")
def preview() -> Response:
    """What the form's profile would have sent over the last PREVIEW_DAYS days, from stored
    papers, through the digest's own selection. JSON for the page's script, else the page."""
    c = ctx()
    result = read_profile(request.form, c.config, PREVIEW_ID, email="")
    email_errors: dict[str, str] = {}
    email = read_email(_posted_email(), email_errors)
    store = request_store()
    if not _allowed(store, "preview-ip", _client()) or (
        email and not _allowed(store, "preview-email", email)
    ):
        return _too_many()
    errors = {k: v for k, v in result.errors.items() if k != "email"}
    if errors:
        if _wants_json():
            return json_response({"errors": errors}, 400)
        return _form_page(result.values, errors, preview={"errors": errors}, status=400)  # said there too
    sub = replace(result.subscriber, id=PREVIEW_ID, email=email or "preview@invalid.example")
    now = _now()
    start = store.last_rev_before(now - timedelta(days=PREVIEW_DAYS))
    runner = DigestRunner(store, c.config, c.env, clock=lambda: now)
    selection = runner.select([SubscriberState(sub, now, start, now)], now)
    found = {
        "total": selection.matched[PREVIEW_ID],
        "stored": store.count_papers_after(start),  # none: nothing came in, not nothing matched
        "days": PREVIEW_DAYS,
        "papers": [
            {"title": m.paper.display_title, "link": m.paper.link, "why": list(m.why)[:6]}
            for m in selection.best[PREVIEW_ID]
        ],
    }
    if _wants_json():
        return json_response(found)
    return _form_page(result.values, {}, preview=found)
