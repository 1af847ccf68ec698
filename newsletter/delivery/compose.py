"""The messages of one built edition: each variant (language and chosen sections) is rendered and
encoded once, and a recipient's copy is their links and To: put into it (`envelope`). The slower
`message` builds a stdlib EmailMessage, for previews and other callers that want one."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from newsletter.config import Settings
from newsletter.content import EditionContent
from newsletter.delivery.smtp.dkim import DkimSigner
from newsletter.delivery.smtp.mime import Envelope, MimeTemplate, compose, mail_date
from newsletter.errors import ConfigError, EditionStateError, NewsletterError
from newsletter.languages import DEFAULT_LANGUAGE, LANGUAGES
from newsletter.render import RenderedEdition, personalize, render_edition
from subscribers import preferences_url, unsubscribe_url


@dataclass(frozen=True)
class Variant:
    """What makes one subscriber's edition differ from another's apart from their links: the
    key of the compiled template. Most subscribers choose no sections, so the number of
    compilations follows the number of distinct choices, not of subscribers."""

    lang: str
    sections: tuple[str, ...] = ()
    other_languages: bool = False


class Messages:
    """Makes recipients' messages of one edition."""

    def __init__(self, content: EditionContent, settings: Settings) -> None:
        self._content = content
        self._settings = settings
        self._rendered: dict[Variant, RenderedEdition] = {}
        self._templates: dict[Variant, MimeTemplate] = {}
        self._domain = parseaddr(settings.require_from())[1].rpartition("@")[2]
        self._sign = DkimSigner(settings.dkim) if settings.dkim.enabled else None

    def rendered(self, lang: str) -> RenderedEdition:
        return self._render(self.variant(lang=lang))

    def render_all(self, choices: Iterable[tuple[str, Sequence[str]]]) -> int:
        """Render both languages and every (language, sections) in `choices` now, so that an
        edition that cannot be shown to someone fails before anything is sent or recorded.
        Returns how many variants there are."""
        variants = {
            self.variant(lang=lang, sections=sections, other_languages=other)
            for lang, sections in [*((lang, ()) for lang in LANGUAGES), *choices]
            for other in (False, True)
        }
        for variant in variants:
            if not self.is_empty(variant):
                self._render(variant)
        return len(variants)

    def _render(self, variant: Variant) -> RenderedEdition:
        if variant not in self._rendered:
            try:
                self._rendered[variant] = render_edition(
                    self._content,
                    lang=variant.lang,
                    site_name=self._settings.site_name,
                    base_url=self._settings.require_base_url(),
                    sections=variant.sections,
                    other_languages=variant.other_languages,
                    shape=self._settings.edition,
                )
            except NewsletterError:
                raise
            except Exception as exc:  # whatever the template engines or MJML refuse
                sections = f", sections {', '.join(variant.sections)}" if variant.sections else ""
                raise EditionStateError(
                    f"the edition of {self._content.edition_date.isoformat()} cannot be rendered "
                    f"({variant.lang}{sections}): {type(exc).__name__}: {exc}"
                ) from exc
        return self._rendered[variant]

    def is_empty(self, variant: Variant) -> bool:
        """Nothing of the day is in this variant's language and sections (and it takes no
        other language's headlines, or there are none): its readers are skipped rather than
        sent an empty edition."""
        return self._render(variant).empty

    def unsubscribe_url(self, key: str | None) -> str:
        """The unsubscribe link of the subscriber with this link key; None: a test copy's."""
        return unsubscribe_url(
            base_url=self._settings.require_base_url(),
            secret=self._settings.require_secret_key(),
            key=key,
        )

    def preferences_url(self, key: str | None) -> str:
        """The preferences link of the subscriber with this link key; None: a test copy's."""
        return preferences_url(
            base_url=self._settings.require_base_url(),
            secret=self._settings.require_secret_key(),
            key=key,
        )

    def new_message_id(self, idstring: str | None = None) -> str:
        return make_msgid(idstring=idstring, domain=self._domain)

    def message_id(self, *, subscriber_id: int, key: str) -> str:
        """The same for every attempt at one delivery, so a copy sent again after a crash can be
        recognised; signed over the subscriber's link key, so that a bounce or complaint quoting
        it proves it concerns our message to that very subscriber."""
        return delivery_message_id(
            secret=self._settings.require_secret_key(),
            edition_date=self._content.edition_date,
            subscriber_id=subscriber_id,
            key=key,
            domain=self._domain,
        )

    def message(
        self,
        *,
        lang: str,
        to_address: str,
        to_name: str | None,
        unsubscribe: str,
        message_id: str | None = None,
        preferences: str | None = None,
    ) -> EmailMessage:
        rendered = self.rendered(lang)
        html, text = personalize(rendered, unsubscribe_url=unsubscribe, preferences_url=preferences)
        return compose(
            sender=self._settings.require_from(),
            to_address=to_address,
            to_name=to_name,
            subject=rendered.subject,
            html=html,
            text=text,
            message_id=message_id or self.new_message_id(),
            unsubscribe_url=unsubscribe,
            lang=rendered.lang,
        )

    def variant(
        self, *, lang: str, sections: Sequence[str] = (), other_languages: bool = False
    ) -> Variant:
        chosen = tuple(sorted({s.strip().lower() for s in sections if s.strip()}))
        return Variant(
            lang=lang if lang in LANGUAGES else DEFAULT_LANGUAGE,
            sections=chosen,
            other_languages=other_languages,
        )

    def template(self, variant: Variant) -> MimeTemplate:
        if variant not in self._templates:
            rendered = self._render(variant)
            self._templates[variant] = MimeTemplate(
                sender=self._settings.require_from(),
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                lang=rendered.lang,
            )
        return self._templates[variant]

    def envelope(
        self,
        *,
        variant: Variant,
        to_address: str,
        to_name: str | None,
        unsubscribe: str,
        message_id: str,
        preferences: str | None = None,
    ) -> Envelope:
        """One recipient's message as SMTP-ready bytes, DKIM-signed when configured: what
        `message` makes, without the stdlib's per-message cost."""
        if not unsubscribe.isascii():
            raise ConfigError(
                f"NEWSLETTER_BASE_URL must be ASCII in mail headers (use the xn-- form of the "
                f"host): {self._settings.base_url}"
            )
        rendered = self._render(variant)

        def fill(html: str, text: str) -> tuple[str, str]:
            return personalize(
                replace(rendered, html=html, text=text),
                unsubscribe_url=unsubscribe,
                preferences_url=preferences,
            )

        return self.template(variant).render(
            to_address=to_address,
            to_name=to_name,
            message_id=message_id,
            date=mail_date(),
            unsubscribe_url=unsubscribe,
            fill=fill,
            sign=self._sign,
        )


def delivery_message_id(
    *, secret: str, edition_date: date, subscriber_id: int, key: str, domain: str
) -> str:
    """`<YYYYMMDD.SUBSCRIBER.SIGNATURE@domain>`: the signature covers the day, the row id and the
    subscriber's link key, so it matches no one else even where the id was reused."""
    tag = _signature(secret, f"message-id:{edition_date:%Y%m%d}:{subscriber_id}:{key}")
    return f"<{edition_date:%Y%m%d}.{subscriber_id}.{tag}@{domain}>"


@dataclass(frozen=True)
class DeliveryMessageId:
    """A Message-ID in the form `delivery_message_id` makes, not yet checked."""

    edition_date: date
    subscriber_id: int
    tag: str

    def signed_for(self, *, secret: str, key: str) -> bool:
        """Made by us for the subscriber with this link key."""
        day = f"{self.edition_date:%Y%m%d}"
        expected = _signature(secret, f"message-id:{day}:{self.subscriber_id}:{key}")
        return hmac.compare_digest(self.tag, expected)

    def signed_before_keys(self, *, secret: str, edition_id: int) -> bool:
        """Made by us, before link keys, for this row id and edition: proof only for a row that
        was on the list then (`Subscriber.legacy_id_links`)."""
        expected = _signature(secret, f"message-id:{edition_id}:{self.subscriber_id}")
        return hmac.compare_digest(self.tag, expected)


def parse_message_id(message_id: str) -> DeliveryMessageId | None:
    """The parts of a Message-ID in our form; None for any other."""
    local = message_id.strip().strip("<>").partition("@")[0]
    parts = local.split(".")
    if len(parts) != 3 or len(parts[0]) != 8 or not (parts[0] + parts[1]).isdigit():
        return None
    if len(parts[1]) > 18 or not parts[2].isascii():
        return None
    try:
        day = date(int(parts[0][:4]), int(parts[0][4:6]), int(parts[0][6:8]))
    except ValueError:
        return None
    return DeliveryMessageId(day, int(parts[1]), parts[2])


def _signature(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), "sha256").hexdigest()[:16]
