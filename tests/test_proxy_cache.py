from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .hf_fixtures import (
    KEY_HEADER,
    MODEL_URL,
    FakeClock,
    HfAppFactory,
    calls_to,
    use_clock,
)

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

IMAGE_URL = "/api/hf/hf-inference/models/heady-fake/text-to-image"
BLOB_URL = "/api/hf/hf-inference/models/heady-fake/blob"
CHAT_URL = "/api/hf/v1/chat/completions"
CHAT = {"model": "acme/chat", "messages": [{"role": "user", "content": "hi"}]}


def cache_headers(response: TestResponse) -> tuple[str | None, str | None]:
    return response.headers.get("X-Heady-Cache"), response.headers.get("Cache-Status")


def test_identical_requests_miss_then_hit_with_identical_bytes(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    first = client.post(MODEL_URL, json={"inputs": "I like it"}, headers=KEY_HEADER)
    second = client.post(MODEL_URL, json={"inputs": "I like it"}, headers=KEY_HEADER)

    assert len(fake_hf.calls) == 1
    assert cache_headers(first) == (
        "MISS",
        "heady-origin; fwd=uri-miss; fwd-status=200; stored",
    )
    assert cache_headers(second) == ("HIT", "heady-origin; hit; ttl=86400")
    assert second.headers["Age"] == "0"
    assert "Age" not in first.headers
    assert second.data == first.data
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert second.headers["X-Request-Id"] == first.headers["X-Request-Id"]
    assert second.headers["x-compute-type"] == "cpu"


def test_images_are_cached_as_bytes(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    headers = {**KEY_HEADER, "Accept": "image/png"}

    first = client.post(IMAGE_URL, json={"inputs": "a red fox"}, headers=headers)
    second = client.post(IMAGE_URL, json={"inputs": "a red fox"}, headers=headers)

    assert len(fake_hf.calls) == 1
    assert first.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert (first.headers["X-Heady-Cache"], second.headers["X-Heady-Cache"]) == (
        "MISS",
        "HIT",
    )
    assert second.data == first.data
    assert (
        second.headers["Content-Type"] == first.headers["Content-Type"] == "image/png"
    )


def test_same_body_to_two_models_makes_two_calls(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    for model in ("acme/one", "acme/two", "acme/one", "acme/two"):
        client.post(
            f"/api/hf/hf-inference/models/{model}",
            json={"inputs": "x"},
            headers=KEY_HEADER,
        )

    assert [call.path for call in fake_hf.calls] == [
        "/hf-inference/models/acme/one",
        "/hf-inference/models/acme/two",
    ]


def test_json_with_keys_reordered_and_spaces_added_shares_an_entry(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    json_headers = {**KEY_HEADER, "Content-Type": "application/json"}

    first = client.post(
        MODEL_URL,
        data=b'{"inputs":"x","parameters":{"top_k":1,"truncate":true}}',
        headers=json_headers,
    )
    second = client.post(
        MODEL_URL,
        data=b'{ "parameters": { "truncate": true, "top_k": 1 },\n  "inputs": "x" }',
        headers={**KEY_HEADER, "Content-Type": "application/json; charset=UTF-8"},
    )

    assert len(fake_hf.calls) == 1
    assert second.headers["X-Heady-Cache"] == "HIT"
    assert second.data == first.data


@pytest.mark.parametrize(
    ("model", "status"),
    [
        ("heady-fake/loading", 503),
        ("heady-fake/rate-limited", 429),
        ("heady-fake/broken", 500),
    ],
)
def test_upstream_errors_are_relayed_and_asked_again(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, model: str, status: int
) -> None:
    client = hf_app().test_client()
    url = f"/api/hf/hf-inference/models/{model}"

    first = client.post(url, json={"inputs": "x"}, headers=KEY_HEADER)
    second = client.post(url, json={"inputs": "x"}, headers=KEY_HEADER)

    assert len(fake_hf.calls) == 2
    assert first.status_code == second.status_code == status
    assert first.data == second.data
    assert first.headers["Content-Type"] == "application/json"
    assert cache_headers(second) == (
        "MISS",
        f"heady-origin; fwd=uri-miss; fwd-status={status}",
    )


def test_loading_model_gets_retry_after_rounded_up(hf_app: HfAppFactory) -> None:
    client = hf_app().test_client()

    response = client.post(
        "/api/hf/hf-inference/models/heady-fake/loading",
        json={"inputs": "x"},
        headers=KEY_HEADER,
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "8"
    assert response.json == {
        "error": "Model heady-fake/loading is currently loading",
        "estimated_time": 7.2,
    }


def test_answers_that_set_cookies_are_not_stored_nor_kept(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    url = "/api/hf/hf-inference/models/heady-fake/cookie"

    first = client.post(url, json={"inputs": "x"}, headers=KEY_HEADER)
    second = client.post(url, json={"inputs": "x"}, headers=KEY_HEADER)

    assert len(fake_hf.calls) == 2
    assert "Set-Cookie" not in first.headers
    assert cache_headers(second)[1] == "heady-origin; fwd=uri-miss; fwd-status=200"
    assert "cookie" not in fake_hf.calls[1].headers


def test_answer_at_the_size_limit_is_stored_and_one_byte_more_is_not(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app(HEADY_CACHE_MAX_BYTES="1000").test_client()

    for size in (1000, 1001, 1000, 1001):
        response = client.post(
            BLOB_URL, json={"parameters": {"size": size}}, headers=KEY_HEADER
        )
        assert len(response.data) == size

    assert len(fake_hf.calls) == 3
    assert response.headers["X-Heady-Cache"] == "MISS"


def test_large_answers_are_relayed_whole_and_not_stored(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app(HEADY_CACHE_MAX_BYTES="1000").test_client()
    size = 3 * 1024 * 1024

    first = client.post(
        BLOB_URL, json={"parameters": {"size": size}}, headers=KEY_HEADER
    )
    second = client.post(
        BLOB_URL, json={"parameters": {"size": size}}, headers=KEY_HEADER
    )

    assert len(first.data) == size
    assert second.data == first.data
    assert first.headers["Content-Type"] == "application/octet-stream"
    assert cache_headers(second) == (
        "MISS",
        "heady-origin; fwd=uri-miss; fwd-status=200",
    )
    assert len(fake_hf.calls) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"x-use-cache": "false"},
        {"x-use-cache": "0"},
        {"x-use-cache": "No"},
        {"x-use-cache": "OFF"},
        {"Cache-Control": "no-cache"},
        {"Cache-Control": "max-age=0, No-Cache"},
    ],
)
def test_refresh_skips_the_lookup_and_replaces_the_entry(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, headers: dict[str, str]
) -> None:
    app = hf_app()
    clock = use_clock(app, FakeClock())
    client = app.test_client()
    client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)
    clock.advance(500)

    refreshed = client.post(
        MODEL_URL, json={"inputs": "x"}, headers={**KEY_HEADER, **headers}
    )
    hit = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert len(fake_hf.calls) == 2
    assert cache_headers(refreshed) == ("BYPASS", "heady-origin; fwd=bypass; stored")
    assert (hit.headers["X-Heady-Cache"], hit.headers["Age"]) == ("HIT", "0")
    assert "x-use-cache" not in fake_hf.calls[0].headers
    assert fake_hf.calls[1].headers["x-use-cache"] == "false"


def test_refresh_that_fails_leaves_the_old_entry(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    stored = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)
    fake_hf.stop()

    refresh = client.post(
        MODEL_URL,
        json={"inputs": "x"},
        headers={**KEY_HEADER, "x-use-cache": "false"},
    )
    hit = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert refresh.status_code == 502
    assert cache_headers(refresh) == ("BYPASS", "heady-origin; fwd=bypass")
    assert hit.headers["X-Heady-Cache"] == "HIT"
    assert hit.data == stored.data


def test_no_store_neither_reads_nor_writes(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    no_store = {**KEY_HEADER, "Cache-Control": "no-store"}

    client.post(MODEL_URL, json={"inputs": "stored"}, headers=KEY_HEADER)
    skipped_read = client.post(MODEL_URL, json={"inputs": "stored"}, headers=no_store)
    client.post(MODEL_URL, json={"inputs": "fresh"}, headers=no_store)
    not_written = client.post(MODEL_URL, json={"inputs": "fresh"}, headers=KEY_HEADER)

    assert len(fake_hf.calls) == 4
    assert cache_headers(skipped_read) == ("BYPASS", "heady-origin; fwd=bypass")
    assert not_written.headers["X-Heady-Cache"] == "MISS"


def test_streaming_chat_requests_are_never_looked_up_or_stored(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    answers = [
        client.post(CHAT_URL, json={**CHAT, "stream": True}, headers=KEY_HEADER)
        for _ in range(2)
    ]

    assert calls_to(fake_hf, "/v1/chat/completions") == 2
    for answer in answers:
        assert answer.mimetype == "text/event-stream"
        assert cache_headers(answer) == ("BYPASS", "heady-origin; fwd=bypass")
        assert answer.data.endswith(b"data: [DONE]\n\n")


def test_plain_chat_completions_are_cached(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    first = client.post(CHAT_URL, json=CHAT, headers=KEY_HEADER)
    second = client.post(CHAT_URL, json={**CHAT, "stream": False}, headers=KEY_HEADER)
    third = client.post(CHAT_URL, json=CHAT, headers=KEY_HEADER)

    assert first.json is not None
    assert first.json["choices"][0]["message"]["content"] == "Fake acme/chat heard: hi"
    assert second.headers["X-Heady-Cache"] == "MISS"
    assert third.headers["X-Heady-Cache"] == "HIT"
    assert len(fake_hf.calls) == 2


def test_event_stream_answers_are_never_stored(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    url = "/api/hf/hf-inference/models/heady-fake/event-stream"

    for _ in range(2):
        answer = client.post(url, json={"inputs": "x"}, headers=KEY_HEADER)
        assert answer.data.endswith(b"data: [DONE]\n\n")

    assert len(fake_hf.calls) == 2
    assert cache_headers(answer) == (
        "MISS",
        "heady-origin; fwd=uri-miss; fwd-status=200",
    )
    assert answer.mimetype == "text/event-stream"


def test_entry_counts_its_age_and_expires_after_the_ttl(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    app = hf_app(HEADY_CACHE_TTL="60")
    clock = use_clock(app, FakeClock())
    client = app.test_client()

    def ask() -> TestResponse:
        return client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    ask()
    clock.advance(0.9)
    fresh = ask()
    clock.advance(24.2)
    older = ask()
    clock.advance(34.8)
    last_second = ask()
    clock.advance(0.1)
    expired = ask()
    again = ask()

    assert (fresh.headers["Age"], fresh.headers["Cache-Status"]) == (
        "0",
        "heady-origin; hit; ttl=60",
    )
    assert (older.headers["Age"], older.headers["Cache-Status"]) == (
        "25",
        "heady-origin; hit; ttl=35",
    )
    assert (last_second.headers["Age"], last_second.headers["Cache-Status"]) == (
        "59",
        "heady-origin; hit; ttl=1",
    )
    assert cache_headers(expired) == (
        "MISS",
        "heady-origin; fwd=uri-miss; fwd-status=200; stored",
    )
    assert again.headers["Age"] == "0"
    assert len(fake_hf.calls) == 2


def test_ttl_zero_stores_nothing(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app(HEADY_CACHE_TTL=0).test_client()

    for _ in range(2):
        answer = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert len(fake_hf.calls) == 2
    assert (
        answer.headers["Cache-Status"] == "heady-origin; fwd=uri-miss; fwd-status=200"
    )


def test_accept_and_query_make_separate_entries(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    for url, accept in [
        (MODEL_URL, "application/json"),
        (MODEL_URL, "image/png"),
        (f"{MODEL_URL}?wait_for_model=true", "application/json"),
        (MODEL_URL, "application/json"),
    ]:
        client.post(url, json={"inputs": "x"}, headers={**KEY_HEADER, "Accept": accept})

    assert len(fake_hf.calls) == 3
