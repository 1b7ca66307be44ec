from __future__ import annotations

import hashlib
import re

import pytest

from flask_heady_edge.cache_key import (
    cache_key_for,
    canonical_json,
    describe_request,
    media_type_of,
)

PATH = "hf-inference/models/acme/sentiment"
JSON = {"Content-Type": "application/json"}
BODY = b'{"inputs": "I like it", "parameters": {"top_k": 2}}'


def key(
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    path: str = PATH,
    query: str = "",
) -> str:
    return describe_request("POST", path, query, headers or JSON, body).key


def test_key_is_a_sha256_hex_digest() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", key())


def test_same_request_gives_the_same_key() -> None:
    assert key() == key()


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        ("  image/PNG ;q=1", "image/png"),
        ("", ""),
        (None, ""),
    ],
)
def test_media_type_is_lowercased_without_parameters(
    content_type: str | None, expected: str
) -> None:
    assert media_type_of(content_type) == expected


def test_media_type_parameters_and_case_do_not_change_the_key() -> None:
    plain = key(headers={"Content-Type": "application/json"})
    assert key(headers={"Content-Type": "Application/JSON; charset=utf-8"}) == plain


def test_media_type_is_part_of_the_key() -> None:
    assert key(headers={"Content-Type": "text/plain"}) != key()


def test_accept_is_part_of_the_key() -> None:
    png = key(headers={**JSON, "Accept": "image/png"})
    jpeg = key(headers={**JSON, "Accept": "image/jpeg"})
    assert len({png, jpeg, key()}) == 3


def test_query_is_part_of_the_key() -> None:
    assert key(query="wait_for_model=true") != key()


def test_two_models_never_share_a_key() -> None:
    assert key(path="hf-inference/models/acme/other") != key()


def test_json_written_differently_shares_a_key() -> None:
    reordered = b'{ "parameters" : { "top_k" : 2 } ,\n "inputs" : "I like it" }'
    assert key(reordered) == key()


def test_unicode_escapes_and_literal_characters_share_a_key() -> None:
    assert key(b'{"inputs": "caf\\u00e9"}') == key('{"inputs": "café"}'.encode())


def test_json_values_still_matter() -> None:
    assert key(b'{"inputs": "I like it", "parameters": {"top_k": 3}}') != key()


def test_canonical_json_sorts_keys_drops_spaces_and_unescapes() -> None:
    canonical = canonical_json(b'{"b": [1, 2.5], "a": "\\u00e9"}')

    assert canonical is not None
    assert canonical[0] == '{"a":"é","b":[1,2.5]}'.encode()


def test_canonical_json_keeps_lone_surrogates_apart() -> None:
    first = canonical_json(b'{"inputs": "\\ud800"}')
    second = canonical_json(b'{"inputs": "\\ud801"}')

    assert first is not None and second is not None
    assert first[0] != second[0]


def test_non_json_body_is_hashed_as_its_bytes() -> None:
    text = {"Content-Type": "text/plain"}
    assert key(b'{"a": 1}', text) != key(b'{ "a": 1 }', text)


def test_image_bytes_are_hashed_as_they_are() -> None:
    png = {"Content-Type": "image/png"}
    assert key(b"\x89PNG\r\n\x1a\n\x00", png) != key(b"\x89PNG\r\n\x1a\n\x01", png)
    assert key(b"\x89PNG\r\n\x1a\n\x00", png) == key(b"\x89PNG\r\n\x1a\n\x00", png)


def test_malformed_json_is_hashed_as_its_bytes() -> None:
    assert key(b'{"inputs": ') != key(b'{"inputs":')


def test_credentials_and_tracing_headers_never_change_the_key() -> None:
    noisy = {
        **JSON,
        "Authorization": "Bearer hf_client_token",
        "x-heady-api-key": "another-clients-key",
        "Cookie": "session=abc",
        "X-Request-Id": "req-1",
        "X-Amzn-Trace-Id": "Root=1-abc",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "X-Forwarded-For": "203.0.113.9",
        "User-Agent": "huggingface_hub/1.0",
        "x-use-cache": "true",
    }
    assert key(headers=noisy) == key()


def test_fields_cannot_bleed_into_each_other() -> None:
    digest_one = cache_key_for("POST", "a/bc", "", "", "", b"")
    digest_two = cache_key_for("POST", "a/b", "c", "", "", b"")
    assert digest_one != digest_two


def test_key_covers_the_method() -> None:
    assert cache_key_for("POST", PATH, "", "", "", b"") != cache_key_for(
        "PUT", PATH, "", "", "", b""
    )


def test_key_is_sha256_over_the_versioned_fields() -> None:
    digest = hashlib.sha256(b"heady-edge-hf-1")
    for field in (b"POST", b"p", b"q", b"m", b"a", b"body"):
        digest.update(len(field).to_bytes(8, "big") + field)

    assert cache_key_for("POST", "p", "q", "m", "a", b"body") == digest.hexdigest()


@pytest.mark.parametrize(
    ("body", "streaming"),
    [
        (b'{"model": "m", "stream": true}', True),
        (b'{"model": "m", "stream": false}', False),
        (b'{"model": "m", "stream": "true"}', False),
        (b'{"model": "m"}', False),
        (b'[{"stream": true}]', False),
        (b"not json", False),
    ],
)
def test_stream_flag_is_read_from_a_json_body(body: bytes, streaming: bool) -> None:
    assert describe_request("POST", PATH, "", JSON, body).streaming is streaming


def test_untyped_json_body_is_canonicalised_too() -> None:
    untyped = describe_request("POST", PATH, "", {}, b'{"b": 1, "a": 2}').key
    assert untyped == describe_request("POST", PATH, "", {}, b'{"a":2,"b":1}').key


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
)
def test_json_nested_too_deeply_is_hashed_as_its_bytes(body: bytes) -> None:
    facts = describe_request("POST", PATH, "", JSON, body)

    assert canonical_json(body) is None
    assert facts.key == cache_key_for("POST", PATH, "", "application/json", "", body)
    assert facts.streaming is False


def test_json_nested_just_within_the_parser_limit_is_canonicalised() -> None:
    nested = b"[" * 500 + b" 1 " + b"]" * 500

    canonical = canonical_json(nested)

    assert canonical is not None
    assert canonical[0] == b"[" * 500 + b"1" + b"]" * 500
