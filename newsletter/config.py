"""Settings: a TOML file overridden by NEWSLETTER_* environment variables; secrets only from the
environment. Loaded once at the edge (the CLI) and passed down."""

from __future__ import annotations

import math
import os
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from newsletter.errors import ConfigError
from newsletter.summarize import DEFAULT_LEAD_WEIGHT, DEFAULT_WORDS

DEFAULT_DATABASE_URL = "sqlite:///newsletter.sqlite3"
DEFAULT_TIMEZONE = ZoneInfo("Europe/Moscow")  # the site's own
DKIM_BODY = ("simple", "relaxed")
SMTP_SECURITY = ("none", "starttls", "ssl")
# Values people leave in example files; a key like this would make every token forgeable.
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "secret-key", "xxx", "todo", "dev"}
_MIN_SECRET_LENGTH = 16
# zxcvbn's top score: no pattern it knows (repeats, sequences, keyboard rows, dates, common
# words and passwords) makes the key cheaper than 10^10 guesses. It reads 72 characters at most.
_MIN_SECRET_SCORE = 4
_SECRET_CHECKED_LENGTH = 72
MAKE_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"

# TOML key -> environment variable. Secrets are absent here on purpose: they have no TOML key.
_ENV_NAMES = {
    "database_url": "NEWSLETTER_DATABASE_URL",
    "timezone": "NEWSLETTER_TIMEZONE",
    "from": "NEWSLETTER_FROM",
    "base_url": "NEWSLETTER_BASE_URL",
    "site_name": "NEWSLETTER_SITE_NAME",
    "smtp.host": "NEWSLETTER_SMTP_HOST",
    "smtp.port": "NEWSLETTER_SMTP_PORT",
    "smtp.username": "NEWSLETTER_SMTP_USERNAME",
    "smtp.security": "NEWSLETTER_SMTP_SECURITY",
    "smtp.verify": "NEWSLETTER_SMTP_VERIFY",
    "smtp.ca_file": "NEWSLETTER_SMTP_CA_FILE",
    "delivery.connections": "NEWSLETTER_DELIVERY_CONNECTIONS",
    "delivery.messages_per_connection": "NEWSLETTER_DELIVERY_MESSAGES_PER_CONNECTION",
    "delivery.rate_per_second": "NEWSLETTER_DELIVERY_RATE_PER_SECOND",
    "delivery.rate_per_hour": "NEWSLETTER_DELIVERY_RATE_PER_HOUR",
    "delivery.max_attempts": "NEWSLETTER_DELIVERY_MAX_ATTEMPTS",
    "delivery.backoff_seconds": "NEWSLETTER_DELIVERY_BACKOFF_SECONDS",
    "delivery.lease_seconds": "NEWSLETTER_DELIVERY_LEASE_SECONDS",
    "dkim.selector": "NEWSLETTER_DKIM_SELECTOR",
    "dkim.domain": "NEWSLETTER_DKIM_DOMAIN",
    "dkim.key_path": "NEWSLETTER_DKIM_KEY_PATH",
    "dkim.ed25519_selector": "NEWSLETTER_DKIM_ED25519_SELECTOR",
    "dkim.ed25519_key_path": "NEWSLETTER_DKIM_ED25519_KEY_PATH",
    "dkim.body": "NEWSLETTER_DKIM_BODY",
    "web.confirm_days": "NEWSLETTER_WEB_CONFIRM_DAYS",
    "web.subscribe_per_hour": "NEWSLETTER_WEB_SUBSCRIBE_PER_HOUR",
    "web.sections": "NEWSLETTER_WEB_SECTIONS",
    "summary.words": "NEWSLETTER_SUMMARY_WORDS",
    "summary.lead_weight": "NEWSLETTER_SUMMARY_LEAD_WEIGHT",
    "edition.top_stories": "NEWSLETTER_EDITION_TOP_STORIES",
    "edition.subject": "NEWSLETTER_EDITION_SUBJECT",
    "edition.section_weights": "NEWSLETTER_EDITION_SECTION_WEIGHTS",
    "web.confirm_attempts": "NEWSLETTER_WEB_CONFIRM_ATTEMPTS",
    "web.confirm_backoff_seconds": "NEWSLETTER_WEB_CONFIRM_BACKOFF_SECONDS",
    "edition.require_approval": "NEWSLETTER_EDITION_REQUIRE_APPROVAL",
}
_SECRET_ENV = {"secret_key": "NEWSLETTER_SECRET_KEY", "smtp.password": "NEWSLETTER_SMTP_PASSWORD"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    security: str = "none"
    verify: bool = True  # check the relay's certificate and host name (starttls, ssl)
    ca_file: str | None = None  # a private CA's certificates, instead of the system's


@dataclass(frozen=True)
class DeliverySettings:
    """How hard `send` pushes the relay; rates of 0 mean no limit. Limits are per process."""

    connections: int = 4
    messages_per_connection: int = 1000  # then the connection is closed and opened again
    rate_per_second: int = 0
    rate_per_hour: int = 0
    max_attempts: int = 4  # per run, for 4xx replies and dropped connections
    backoff_seconds: float = 2.0  # first wait before a retry; doubles with each attempt
    lease_seconds: int = 120  # a dead sender's claimed deliveries are free again after this


@dataclass(frozen=True)
class DkimSettings:
    """DKIM signing is on when selector, domain and key are set; the key file holds a PEM RSA
    private key. An Ed25519 key (RFC 8463) adds a second signature beside the RSA one: verifiers
    that know Ed25519 check either, the others the RSA one."""

    selector: str | None = None
    domain: str | None = None
    key_path: Path | None = None
    ed25519_selector: str | None = None
    ed25519_key_path: Path | None = None
    body: str = "simple"  # body canonicalisation (RFC 6376 3.4): "simple" or "relaxed"

    @property
    def enabled(self) -> bool:
        return bool(self.selector and self.domain and self.key_path)


@dataclass(frozen=True)
class WebSettings:
    """The subscription pages of `newsletter serve`."""

    confirm_days: int = 7  # how long a confirmation link works
    subscribe_per_hour: int = 10  # subscribe attempts per client address (per server process)
    sections: tuple[str, ...] = ()  # tags offered as sections; empty: the tags in the store
    # A confirmation the relay did not take is tried again after this, doubled each time up to
    # an hour, this many times in all: 12 tries span about five hours of a relay being down.
    confirm_attempts: int = 12
    confirm_backoff_seconds: float = 30.0


@dataclass(frozen=True)
class SummarySettings:
    """Article blurbs in the edition (defaults chosen on the dev sets by `bench/summaries.py`)."""

    words: int = DEFAULT_WORDS  # at most this many words (whitespace-separated tokens) each
    lead_weight: float = DEFAULT_LEAD_WEIGHT  # how much the lede is preferred; 0: not at all


@dataclass(frozen=True)
class EditionSettings:
    """The shape of an edition. `subject` is filled with the top headline and, when the reader's
    edition holds more stories, the tail ("and 7 more stories"); `section_weights` maps a tag
    to the points it adds to an article's rank. With `require_approval`, `send` and `run` send
    only editions an editor approved."""

    top_stories: int = 5
    subject: str = "{headline} — {more}"
    section_weights: Mapping[str, float] = field(default_factory=dict)
    require_approval: bool = False


@dataclass(frozen=True)
class Settings:
    """Optional fields are required only by the commands that use them; see the `require_*`."""

    database_url: str = DEFAULT_DATABASE_URL
    timezone: ZoneInfo = DEFAULT_TIMEZONE
    from_address: str | None = None
    base_url: str | None = None
    secret_key: str | None = None
    site_name: str = "VPK News"
    smtp: SmtpSettings = SmtpSettings()
    delivery: DeliverySettings = DeliverySettings()
    dkim: DkimSettings = DkimSettings()
    web: WebSettings = WebSettings()
    summary: SummarySettings = SummarySettings()
    edition: EditionSettings = EditionSettings()

    def require_from(self) -> str:
        if not self.from_address:
            raise ConfigError("NEWSLETTER_FROM is not set: the sender address of the edition")
        return self.from_address

    def require_base_url(self) -> str:
        if not self.base_url:
            raise ConfigError(
                "NEWSLETTER_BASE_URL is not set: links in the email are built from it"
            )
        return self.base_url

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise ConfigError(
                "NEWSLETTER_SECRET_KEY is not set: it signs unsubscribe links "
                f"(set it in the environment, e.g. to the output of `{MAKE_SECRET}`)"
            )
        return self.secret_key


def load_settings(
    config_path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (from the argument or NEWSLETTER_CONFIG), then apply the environment."""
    env = os.environ if environ is None else environ
    path = config_path or (Path(env["NEWSLETTER_CONFIG"]) if env.get("NEWSLETTER_CONFIG") else None)
    raw = _flatten(_read_toml(path), keep=("edition.section_weights",)) if path else {}
    for key in raw:
        if key in _SECRET_ENV:
            raise ConfigError(
                f"{path}: '{key}' is a secret and is read only from {_SECRET_ENV[key]} "
                "in the environment; remove it from the file"
            )
        if key not in _ENV_NAMES:
            raise ConfigError(f"{path}: unknown setting '{key}'")
    values: dict[str, tuple[Any, str]] = {k: (v, f"{path}: {k}") for k, v in raw.items()}
    for key, name in (_ENV_NAMES | _SECRET_ENV).items():
        if env.get(name, "") != "":
            values[key] = (env[name], name)

    def get(key: str) -> tuple[Any, str] | None:
        return values.get(key)

    smtp = SmtpSettings(
        host=_string(get("smtp.host")) or SmtpSettings.host,
        port=_port(get("smtp.port")),
        username=_string(get("smtp.username")),
        password=_string(get("smtp.password")),
        security=_choice(get("smtp.security"), SMTP_SECURITY, SmtpSettings.security),
        verify=_flag(get("smtp.verify"), SmtpSettings.verify),
        ca_file=_string(get("smtp.ca_file")),
    )
    d = DeliverySettings
    delivery = DeliverySettings(
        connections=_number(get("delivery.connections"), d.connections, 1),
        messages_per_connection=_number(
            get("delivery.messages_per_connection"), d.messages_per_connection, 1
        ),
        rate_per_second=_number(get("delivery.rate_per_second"), d.rate_per_second, 0),
        rate_per_hour=_number(get("delivery.rate_per_hour"), d.rate_per_hour, 0),
        max_attempts=_number(get("delivery.max_attempts"), d.max_attempts, 1),
        backoff_seconds=_seconds(get("delivery.backoff_seconds"), d.backoff_seconds),
        lease_seconds=_number(get("delivery.lease_seconds"), d.lease_seconds, 1),
    )
    dkim = _dkim(get)
    return Settings(
        database_url=_string(get("database_url")) or DEFAULT_DATABASE_URL,
        timezone=_timezone(get("timezone")),
        from_address=_sender(get("from")),
        base_url=_base_url(get("base_url")),
        secret_key=_secret(get("secret_key")),
        site_name=_string(get("site_name")) or Settings.site_name,
        smtp=smtp,
        delivery=delivery,
        dkim=dkim,
        web=WebSettings(
            confirm_days=_number(get("web.confirm_days"), WebSettings.confirm_days, 1),
            subscribe_per_hour=_number(
                get("web.subscribe_per_hour"), WebSettings.subscribe_per_hour, 1
            ),
            sections=_sections(get("web.sections")),
            confirm_attempts=_number(get("web.confirm_attempts"), WebSettings.confirm_attempts, 1),
            confirm_backoff_seconds=_seconds(
                get("web.confirm_backoff_seconds"), WebSettings.confirm_backoff_seconds
            ),
        ),
        summary=SummarySettings(
            words=_number(get("summary.words"), SummarySettings.words, 1),
            lead_weight=_weight(get("summary.lead_weight"), SummarySettings.lead_weight),
        ),
        edition=EditionSettings(
            top_stories=_number(get("edition.top_stories"), EditionSettings.top_stories, 1),
            subject=_subject(get("edition.subject")),
            section_weights=_weights(get("edition.section_weights")),
            require_approval=_flag(
                get("edition.require_approval"), EditionSettings.require_approval
            ),
        ),
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _flatten(
    table: Mapping[str, Any], prefix: str = "", keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Nested tables become dotted keys, except those in `keep`, which are values (maps)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping) and f"{prefix}{key}" not in keep:
            flat |= _flatten(value, f"{prefix}{key}.", keep)
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _string(item: tuple[Any, str] | None) -> str | None:
    if item is None:
        return None
    value, name = item
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    if "\n" in value or "\r" in value:
        raise ConfigError(f"{name}: must be a single line")
    return value.strip() or None


def _port(item: tuple[Any, str] | None) -> int:
    if item is None:
        return SmtpSettings.port
    value, name = item
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a port number, got {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name}: port {port} is out of range 1-65535")
    return port


def _sections(item: tuple[Any, str] | None) -> tuple[str, ...]:
    """A TOML list of tags, or a comma-separated list in the environment."""
    if item is None:
        return ()
    value, name = item
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or not all(isinstance(part, str) for part in parts):
        raise ConfigError(f"{name}: expected a list of tags, got {value!r}")
    tags = tuple(dict.fromkeys(part.strip().lower() for part in parts if part.strip()))
    if any(len(tag) > 100 or not tag.isprintable() for tag in tags):
        raise ConfigError(f"{name}: tags must be printable and at most 100 characters")
    return tags


_SUBJECT_FIELDS = frozenset({"headline", "more"})


def _subject(item: tuple[Any, str] | None) -> str:
    """A format string with {headline} and optionally {more}, and no other field."""
    value = _string(item)
    if value is None:
        return EditionSettings.subject
    assert item is not None
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"{item[1]}: not a valid template ({exc}): {value!r}") from None
    if "headline" not in fields or not fields <= _SUBJECT_FIELDS:
        raise ConfigError(
            f"{item[1]}: the subject template takes {{headline}} and {{more}} only, "
            f"with {{headline}} required: {value!r}"
        )
    return value


def _weights(item: tuple[Any, str] | None) -> dict[str, float]:
    """A TOML table of tag = points, or `tag=points,tag=points` in the environment."""
    if item is None:
        return {}
    value, name = item
    pairs: list[tuple[Any, Any]]
    if isinstance(value, str):
        pairs = [(p.partition("=")[0], p.partition("=")[2]) for p in value.split(",") if p.strip()]
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise ConfigError(f"{name}: expected a table of tag = weight, got {value!r}")
    weights: dict[str, float] = {}
    for tag, raw in pairs:
        try:
            weight = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: the weight of {tag!r} is not a number: {raw!r}") from None
        if isinstance(raw, bool) or not math.isfinite(weight) or not str(tag).strip():
            raise ConfigError(f"{name}: expected tag = weight, got {tag!r} = {raw!r}")
        weights[str(tag).strip().casefold()] = weight
    return weights


def _number(item: tuple[Any, str] | None, default: int, minimum: int) -> int:
    if item is None:
        return default
    value, name = item
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum or isinstance(value, bool):
        raise ConfigError(f"{name}: must be a whole number of at least {minimum}, got {value!r}")
    return number


def _seconds(item: tuple[Any, str] | None, default: float) -> float:
    if item is None:
        return default
    value, name = item
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number of seconds, got {value!r}") from None
    if not 0 <= seconds <= 3600 or isinstance(value, bool):
        raise ConfigError(f"{name}: must be between 0 and 3600 seconds, got {value!r}")
    return seconds


def _weight(item: tuple[Any, str] | None, default: float) -> float:
    if item is None:
        return default
    value, name = item
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if not 0 <= weight <= 100 or isinstance(value, bool):
        raise ConfigError(f"{name}: must be between 0 and 100, got {value!r}")
    return weight


def _flag(item: tuple[Any, str] | None, default: bool) -> bool:
    if item is None:
        return default
    value, name = item
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _dkim(get: Callable[[str], tuple[Any, str] | None]) -> DkimSettings:
    """All or none: a half-configured signer would send unsigned mail silently."""
    rsa_key, ed25519_key = get("dkim.key_path"), get("dkim.ed25519_key_path")
    rsa = _string(get("dkim.selector")), _string(get("dkim.domain")), _string(rsa_key)
    ed25519 = _string(get("dkim.ed25519_selector")), _string(ed25519_key)
    body = _choice(get("dkim.body"), DKIM_BODY, DkimSettings.body)
    if not any(rsa) and not any(ed25519):
        return DkimSettings(body=body)
    if not all(rsa):
        raise ConfigError(
            "DKIM needs all of NEWSLETTER_DKIM_SELECTOR, NEWSLETTER_DKIM_DOMAIN and "
            "NEWSLETTER_DKIM_KEY_PATH (dkim.selector, dkim.domain, dkim.key_path); "
            "an Ed25519 signature goes beside an RSA one"
        )
    if any(ed25519) and not all(ed25519):
        raise ConfigError(
            "an Ed25519 signature needs both NEWSLETTER_DKIM_ED25519_SELECTOR and "
            "NEWSLETTER_DKIM_ED25519_KEY_PATH (dkim.ed25519_selector, dkim.ed25519_key_path)"
        )
    return DkimSettings(
        selector=rsa[0],
        domain=str(rsa[1]).lower(),
        key_path=_key_file(rsa_key),
        ed25519_selector=ed25519[0],
        ed25519_key_path=_key_file(ed25519_key) if ed25519[0] else None,
        body=body,
    )


def _key_file(item: tuple[Any, str] | None) -> Path:
    assert item is not None
    path = Path(str(_string(item)))
    if not path.is_file():
        raise ConfigError(f"{item[1]}: no key file at {path}")
    return path


def _choice(item: tuple[Any, str] | None, allowed: tuple[str, ...], default: str) -> str:
    value = _string(item)
    if value is None:
        return default
    if value.lower() not in allowed:
        assert item is not None
        raise ConfigError(f"{item[1]}: {value!r} is not one of {', '.join(allowed)}")
    return value.lower()


def _timezone(item: tuple[Any, str] | None) -> ZoneInfo:
    value = _string(item)
    if value is None:
        return DEFAULT_TIMEZONE
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        assert item is not None
        raise ConfigError(f"{item[1]}: unknown time zone {value!r}") from None


def _sender(item: tuple[Any, str] | None) -> str | None:
    value = _string(item)
    if value is None:
        return None
    assert item is not None
    display, addr = parseaddr(value)
    try:
        valid = validate_email(addr, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ConfigError(f"{item[1]}: {value!r} is not a valid sender address: {exc}") from None
    return str(Address(display_name=display, addr_spec=valid.normalized))


def _base_url(item: tuple[Any, str] | None) -> str | None:
    value = _string(item)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        assert item is not None
        raise ConfigError(f"{item[1]}: {value!r} is not an absolute http(s) URL")
    return value.rstrip("/")


def _secret(item: tuple[Any, str] | None) -> str | None:
    value = _string(item)
    if value is None:
        return None
    assert item is not None
    if any(character.isspace() for character in value):
        # A random key has none, and sh and systemd's EnvironmentFile= quote them differently.
        raise ConfigError(
            f"{item[1]}: contains spaces or other blanks; use a random value such as the "
            f"output of `{MAKE_SECRET}`"
        )
    if (
        value.lower() in _PLACEHOLDER_SECRETS
        or len(value) < _MIN_SECRET_LENGTH
        or _strength(value) < _MIN_SECRET_SCORE
    ):
        # The value itself is not repeated: this line may end up in a log or a cron mail.
        raise ConfigError(
            f"{item[1]}: looks like a placeholder or is easy to guess (a repeat, a sequence, "
            f"a word); use a random value of at least {_MIN_SECRET_LENGTH} characters, such as "
            f"the output of `{MAKE_SECRET}`"
        )
    return value


def _strength(secret: str) -> int:
    """zxcvbn's score from 0 to 4 (imported here: only a command with a key pays for it)."""
    from zxcvbn import zxcvbn

    result = zxcvbn(secret[:_SECRET_CHECKED_LENGTH], user_inputs=["newsletter"])
    return int(result["score"])
