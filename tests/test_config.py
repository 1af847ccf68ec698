from pathlib import Path

import pytest

from newsletter.config import load_settings
from newsletter.errors import ConfigError

SECRET = "Xq7fT2mWc9LpR4vB8nHs3KdY6gJz1eUa"


def test_defaults_need_no_file_and_no_environment() -> None:
    settings = load_settings(environ={})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.timezone.key == "Europe/Moscow"
    assert settings.smtp.security == "none"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(
        'timezone = "UTC"\nbase_url = "https://a.example/"\n[smtp]\nhost = "relay"\nport = 2525\n'
    )
    settings = load_settings(
        environ={
            "NEWSLETTER_CONFIG": str(config),
            "NEWSLETTER_SMTP_PORT": "587",
            "NEWSLETTER_SMTP_SECURITY": "STARTTLS",
            "NEWSLETTER_SECRET_KEY": SECRET,
        }
    )
    assert settings.timezone.key == "UTC"
    assert settings.base_url == "https://a.example"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "relay",
        587,
        "starttls",
    )
    assert settings.require_secret_key() == SECRET


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSLETTER_SMTP_PORT", "twenty-five", "NEWSLETTER_SMTP_PORT: expected a port"),
        ("NEWSLETTER_SMTP_PORT", "70000", "out of range"),
        ("NEWSLETTER_SMTP_SECURITY", "tls", "NEWSLETTER_SMTP_SECURITY: 'tls' is not one of"),
        ("NEWSLETTER_TIMEZONE", "Mars/Olympus", "NEWSLETTER_TIMEZONE: unknown time zone"),
        ("NEWSLETTER_FROM", "not an address", "NEWSLETTER_FROM: .* not a valid sender"),
        ("NEWSLETTER_BASE_URL", "news.example.org", "NEWSLETTER_BASE_URL: .* not an absolute"),
        ("NEWSLETTER_SECRET_KEY", "changeme", "NEWSLETTER_SECRET_KEY: looks like a placeholder"),
        ("NEWSLETTER_FROM", "a@b.example\nBcc: x@y.example", "NEWSLETTER_FROM: must be a single"),
    ],
)
def test_malformed_setting_is_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={name: value})


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text(f'[smtp]\npassword = "{SECRET}"\n')
    with pytest.raises(ConfigError, match=r"smtp\.password' is a secret .* NEWSLETTER_SMTP_PASS"):
        load_settings(config)


def test_unknown_key_and_bad_toml_name_the_file(tmp_path: Path) -> None:
    config = tmp_path / "newsletter.toml"
    config.write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match=r"newsletter.toml: unknown setting 'colour'"):
        load_settings(config)
    config.write_text("timezone = \n")
    with pytest.raises(ConfigError, match=r"newsletter\.toml: not valid TOML"):
        load_settings(config)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "missing.toml")


def test_missing_required_setting_is_named_when_used() -> None:
    settings = load_settings(environ={})
    with pytest.raises(ConfigError, match="NEWSLETTER_FROM is not set"):
        settings.require_from()
    with pytest.raises(ConfigError, match="NEWSLETTER_BASE_URL is not set"):
        settings.require_base_url()
    with pytest.raises(ConfigError, match="NEWSLETTER_SECRET_KEY is not set"):
        settings.require_secret_key()
