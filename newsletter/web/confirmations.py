"""Confirmation mail through a queue: the subscribe page stores a request and answers; a
background sender inside `newsletter serve` takes each request in and mails its confirmation.

Why a queue: a page that sent the email itself answered later for a new address than for a
listed one (a timing oracle), waited on a slow relay while holding a worker thread, and lost the
email when the relay had closed the idle connection it kept. Here a request costs the page one
insert, the same for every address; the sender opens a fresh SMTP connection for each batch and
closes it after, so no connection is ever left idle; a refused or lost message is tried again
with doubling back-off, and a request outlives a restart of `serve` because it is a row.

A message the relay accepted just before a crash, but whose row was not yet deleted, is sent
again after the restart: at most one duplicate confirmation, never a lost one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.orm import Session

import subscribers as subs
from newsletter.config import Settings
from newsletter.delivery.smtp.dkim import DkimSigner
from newsletter.delivery.smtp.mime import Envelope
from newsletter.delivery.smtp.transport import ConnectionLost, RecipientRefused, SmtpTransport
from newsletter.errors import NewsletterError
from newsletter.store.db import session_scope
from newsletter.store.models import Subscriber, SubscribeRequest, SubscriberStatus
from newsletter.web.mail import confirmation_envelope

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0  # how soon requests stored by another `serve` process are seen
LEASE = timedelta(minutes=5)  # a claim outlives any one SMTP exchange (60 s timeouts)
MAX_BACKOFF = timedelta(hours=1)


def enqueue(*, engine: Engine, email: str, lang: str, cause: str, now: datetime) -> None:
    """Store a subscribe request: the only work the page does, whatever the address."""
    with session_scope(engine) as session:
        session.add(SubscribeRequest(email=email, lang=lang, cause=cause, requested_at=now))


class ConfirmationSender:
    """Drains the queue in a thread of its own, started and stopped with the app."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        secret: str,
        base_url: str,
        sender: str,
        clock: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._secret = secret
        self._base_url = base_url
        self._sender = sender
        self._clock = clock  # the app's clock: link expiry and the resend pause
        self._sign = DkimSigner(settings.dkim) if settings.dkim.enabled else None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="confirmations", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop after the message in hand; one still unsent stays queued for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """A request was stored: drain now rather than at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pause = self.drain()
            except Exception:  # the database is away: keep the thread, try again later
                log.exception("cannot work off the confirmation queue; trying again shortly")
                pause = POLL_SECONDS
            self._wake.wait(pause)
            self._wake.clear()

    def drain(self) -> float:
        """Work off every request that is due; the seconds to wait before the next look."""
        transport = SmtpTransport(self._settings.smtp)
        try:
            while not self._stop.is_set():
                request_id = self._claim()
                if request_id is None:
                    return self._until_next()
                if not self._handle(request_id, transport):
                    # The relay cannot be reached or dropped us: let it be for a while.
                    return self._settings.web.confirm_backoff_seconds
            return 0.0
        finally:
            transport.close()

    def _claim(self) -> int | None:
        now = _utcnow()
        with session_scope(self._engine) as session:
            candidates = session.scalars(
                select(SubscribeRequest.id)
                .where(
                    SubscribeRequest.failed_at.is_(None),
                    or_(
                        SubscribeRequest.next_attempt_at.is_(None),
                        SubscribeRequest.next_attempt_at <= now,
                    ),
                    or_(
                        SubscribeRequest.claimed_until.is_(None),
                        SubscribeRequest.claimed_until < now,
                    ),
                )
                .order_by(SubscribeRequest.id)
                .limit(5)
            ).all()
        for request_id in candidates:
            # Another `serve` process may take the same row: only one update matches. Each in a
            # transaction that writes first, so SQLite waits for a busy lock instead of failing.
            with session_scope(self._engine) as session:
                if _hold(session, request_id, now, free_only=True):
                    return request_id
        return None

    def _until_next(self) -> float:
        with session_scope(self._engine) as session:
            due = session.scalar(
                select(func.min(SubscribeRequest.next_attempt_at)).where(
                    SubscribeRequest.failed_at.is_(None)
                )
            )
        if due is None:
            return POLL_SECONDS
        return max(0.0, min(POLL_SECONDS, (due - _utcnow()).total_seconds()))

    def _handle(self, request_id: int, transport: SmtpTransport) -> bool:
        """Take the request in and send its confirmation. False when the relay is unwell."""
        try:
            envelope = self._take_in(request_id)
        except Exception as exc:
            # The same address stored meanwhile by another `serve` process, or the database
            # busy or away: counted as a try, so a lasting fault ends in a reported failure.
            self._retry_later(request_id, None, f"cannot take the request in: {exc}")
            return True
        if envelope is None:
            return True
        try:
            transport.deliver(envelope)
        except RecipientRefused as exc:
            self._retry_later(request_id, exc.code, str(exc), permanent=exc.permanent)
            return True
        except (ConnectionLost, NewsletterError) as exc:
            self._retry_later(request_id, None, str(exc))
            return False
        with session_scope(self._engine) as session:
            session.execute(delete(SubscribeRequest).where(SubscribeRequest.id == request_id))
        return True

    def _take_in(self, request_id: int) -> Envelope | None:
        """Make the address pending (once) and the message to send; None: nothing to send,
        and the request is done (listed, suppressed, asked again within minutes, or left)."""
        with session_scope(self._engine) as session:
            request = (
                session.get(SubscribeRequest, request_id) if _hold(session, request_id) else None
            )
            if request is None:
                return None
            if request.subscriber_id is None:
                try:
                    confirmation = subs.request_subscription(
                        session=session,
                        email=request.email,
                        lang=request.lang,
                        now=self._now(),
                        cause=request.cause,
                    )
                except subs.InvalidValue as exc:
                    log.warning("subscribe request %d dropped: %s", request_id, exc)
                    confirmation = None
                if confirmation is None or _already_queued(
                    session, request, confirmation.subscriber_id
                ):
                    session.delete(request)
                    return None
                request.subscriber_id = confirmation.subscriber_id
            subscriber = session.get(Subscriber, request.subscriber_id)
            if subscriber is None or subscriber.status is not SubscriberStatus.PENDING:
                session.delete(request)  # confirmed or left meanwhile: the email is moot
                return None
            link = subs.confirm_url(
                base_url=self._base_url,
                secret=self._secret,
                key=subscriber.link_key,
                clock=self._clock,
            )
            return confirmation_envelope(
                sender=self._sender,
                to_address=subscriber.email,
                lang=subscriber.lang,
                site_name=self._settings.site_name,
                confirm_link=link,
                days=self._settings.web.confirm_days,
                sign=self._sign,
            )

    def _retry_later(
        self, request_id: int, code: int | None, error: str, *, permanent: bool = False
    ) -> None:
        web = self._settings.web
        with session_scope(self._engine) as session:
            request = (
                session.get(SubscribeRequest, request_id) if _hold(session, request_id) else None
            )
            if request is None:
                return
            request.attempts += 1
            request.reply_code = code
            request.last_error = error[:2000]
            request.claimed_until = None
            if permanent or request.attempts >= web.confirm_attempts:
                request.failed_at = _utcnow()
                if request.subscriber_id is not None:
                    # The form may be sent again at once, and then tries anew.
                    subs.confirmation_failed(session=session, subscriber_id=request.subscriber_id)
                log.error(
                    "confirmation email for subscribe request %d given up after %d tries: %s",
                    request_id,
                    request.attempts,
                    error,
                )
                return
            wait = timedelta(seconds=web.confirm_backoff_seconds * 2 ** (request.attempts - 1))
            request.next_attempt_at = _utcnow() + min(wait, MAX_BACKOFF)
            log.warning(
                "confirmation email for subscribe request %d not sent (try %d of %d), "
                "trying again at %s: %s",
                request_id,
                request.attempts,
                web.confirm_attempts,
                f"{request.next_attempt_at:%H:%M:%S}",
                error,
            )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def _hold(
    session: Session, request_id: int, now: datetime | None = None, *, free_only: bool = False
) -> bool:
    """Claim the request (renew the claim) for LEASE; False if it is gone, or with `free_only`
    held by another sender. The first statement of every transaction here that writes: on
    SQLite it takes the write lock before any read, so a page's insert cannot overtake it."""
    now = now or _utcnow()
    query = update(SubscribeRequest).where(SubscribeRequest.id == request_id)
    if free_only:
        query = query.where(
            or_(SubscribeRequest.claimed_until.is_(None), SubscribeRequest.claimed_until < now)
        )
    done = session.execute(
        query.values(claimed_until=now + LEASE).execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0) == 1)


def _already_queued(session: Session, request: SubscribeRequest, subscriber_id: int) -> bool:
    """Another request for the same person is on its way (the form sent again after the resend
    pause while the relay was down): one email is enough."""
    other = session.scalar(
        select(SubscribeRequest.id).where(
            SubscribeRequest.id != request.id,
            SubscribeRequest.failed_at.is_(None),
            SubscribeRequest.subscriber_id == subscriber_id,
        )
    )
    return other is not None


def _utcnow() -> datetime:
    # Queue times are the machine's own: the app's clock (moved by tests) is for links.
    return datetime.fromtimestamp(time.time(), UTC)
