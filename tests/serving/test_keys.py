"""API keys: digests, the environment variable, and the start-up checks."""

from __future__ import annotations

import pytest

from tests.base_config import base_config, replaced
from userscore.config.serving import ApiKeySpec
from userscore.errors import ConfigError
from userscore.serving.keys import KeyRing, digest, env_keys, load_keys

# SHA-256("abc"), the FIPS 180-2 test vector.
ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_digest_is_sha256_hex():
    assert digest("abc") == ABC


def test_keyring_finds_a_key_by_its_digest_only():
    ring = KeyRing({"crm": ApiKeySpec(sha256=ABC, scopes=("scores:read",))})
    found = ring.find("abc")
    assert (found.name, found.scopes) == ("crm", frozenset({"scores:read"}))
    assert ring.find(ABC) is None  # the stored digest is not a key
    assert ring.find("abd") is None and ring.find("") is None and ring.find(None) is None
    assert ring.find("a" * 10_000) is None


def test_environment_keys_extend_and_replace_config_keys_by_name():
    api = replaced(base_config().serving.api, keys={"crm": ApiKeySpec(sha256="0" * 64, scopes=("segments:read",))})
    one = "1" * 64
    environ = {
        api.keys_env: f'{{"crm": {{"sha256": "{ABC}", "scopes": ["scores:read"]}}, "app": {{"sha256": "{one}", "scopes": ["segments:read"]}}}}'
    }
    ring = load_keys(api, environ)
    assert len(ring) == 2
    assert ring.find("abc").scopes == frozenset({"scores:read"})


@pytest.mark.parametrize(
    ("value", "key_path", "expected"),
    [
        ("crm: {sha256: abc, scopes: [scores:read]}", "crm.sha256", "the 64 lower-case hex digits"),
        (f"crm: {{sha256: {ABC}, scopes: [admin]}}", "crm.scopes.0", "one of 'scores:read'"),
        (f"crm: {{sha256: {ABC}, scopes: []}}", "crm.scopes", "at least one of"),
        (f"crm: {{sha256: {ABC}}}", "crm.scopes", "required key 'scopes'"),
        ("[a, b", "<value>", "a mapping name -> {sha256, scopes}"),
    ],
)
def test_a_bad_environment_key_names_the_variable_and_the_key(value, key_path, expected):
    with pytest.raises(ConfigError) as caught:
        env_keys("KEYS", {"KEYS": value})
    assert caught.value.file == "$KEYS" and caught.value.key_path == key_path
    assert expected in caught.value.expected


def test_no_key_or_a_shared_digest_fails_at_start():
    api = base_config().serving.api
    with pytest.raises(ConfigError, match="no API key"):
        load_keys(api, {})
    two = {api.keys_env: f"a: {{sha256: {ABC}, scopes: [scores:read]}}\nb: {{sha256: {ABC}, scopes: [segments:read]}}"}
    with pytest.raises(ConfigError, match="with one digest"):
        load_keys(api, two)
