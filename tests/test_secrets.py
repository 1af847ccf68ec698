"""NEWSLETTER_SECRET_KEY signs every link: a key that can be guessed makes every link forgeable,
so guessable values are refused when the settings are loaded, with how to make a good one."""

from __future__ import annotations

import secrets

import pytest

from newsletter.config import load_settings
from newsletter.errors import ConfigError


@pytest.mark.parametrize(
    "value",
    [
        "aaaaaaaaaaaaaaaa",
        "0000000000000000",
        "0000000000000001",
        "abababababababab",
        "1234567812345678",
        "abcdefghijklmnop",
        "0123456789abcdef",
        "qwertyuiopasdfgh",
        "passwordpassword1",
        "changemechangeme",
        "iloveyouiloveyou",
        "P@ssw0rd123456789",
        "Summer2024Summer2024",
        "newsletternewsletter",
        "a" * 200,
        "short",
    ],
)
def test_a_guessable_secret_key_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"NEWSLETTER_SECRET_KEY": value})
    message = str(raised.value)
    assert message.startswith("NEWSLETTER_SECRET_KEY: ")
    assert value not in message, "the refused value is not echoed to logs"
    assert "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'" in message


@pytest.mark.parametrize("value", ["a key with spaces in it, long", "tab\tinside-a-long-key-1234"])
def test_a_secret_key_with_whitespace_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="spaces"):
        load_settings(environ={"NEWSLETTER_SECRET_KEY": value})


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_hex(32),
        lambda: secrets.token_hex(8),
        lambda: secrets.token_urlsafe(12),
        lambda: secrets.token_urlsafe(96),
    ],
    ids=["urlsafe32", "hex32", "hex8", "urlsafe12", "urlsafe96"],
)
def test_random_keys_are_accepted(make: object) -> None:
    assert callable(make)
    for _ in range(20):
        key = make()
        assert load_settings(environ={"NEWSLETTER_SECRET_KEY": key}).secret_key == key
