from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from flask_heady_edge.fake_hf import FakeHuggingFace
from flask_heady_edge.fake_hf_outputs import classification

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, MODEL, MODEL_URL, HfAppFactory
from .servers import serve

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

PROBLEM = "application/problem+json"
INVALID = "urn:heady-edge:problem:upstream-invalid"
CUT_SHORT = "urn:heady-edge:problem:upstream-cut-short"


def fake_model(name: str) -> str:
    return f"/api/hf/hf-inference/models/heady-fake/{name}"


def post(app_factory: HfAppFactory, name: str, **parameters: Any) -> Any:
    client = app_factory().test_client()
    return client.post(
        fake_model(name), json={"inputs": "x", "parameters": parameters},
        headers=KEY_HEADER,
    )


def test_conflicting_content_lengths_are_a_502_problem(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    response = post(hf_app, "two-lengths")

    assert response.status_code == 502
    assert response.mimetype == PROBLEM
    assert response.json == {
        "type": INVALID,
        "title": "Bad Gateway",
        "status": 502,
        "detail": "The inference server's answer is not valid HTTP.",
    }
    assert response.headers["X-Heady-Cache"] == "MISS"
    assert response.headers["Cache-Status"] == "heady-origin; fwd=uri-miss"
    assert len(fake_hf.calls) == 1


def test_invalid_answer_marks_the_upstream_down_until_it_answers_again(
    hf_app: HfAppFactory,
) -> None:
    client = hf_app().test_client()

    client.post(fake_model("two-lengths"), json={}, headers=KEY_HEADER)
    down = client.get("/api/edge/health", headers=KEY_HEADER).json
    client.post(MODEL_URL, json={}, headers=KEY_HEADER)
    up = client.get("/api/edge/health", headers=KEY_HEADER).json

    assert down["parts"]["upstream"]["state"] == "down"
    assert up["parts"]["upstream"]["state"] == "ok"


@pytest.mark.parametrize("status", [103, 199, 600, 999])
def test_status_outside_200_to_599_is_a_502_problem(
    hf_app: HfAppFactory, status: int
) -> None:
    response = post(hf_app, "status", status=status)

    assert response.status_code == 502
    assert response.json == {
        "type": INVALID,
        "title": "Bad Gateway",
        "status": 502,
        "detail": f"The inference server answered with status {status}, which is"
        " not a final HTTP status.",
    }


@pytest.mark.parametrize("status", [200, 299, 418, 599])
def test_status_from_200_to_599_is_relayed(hf_app: HfAppFactory, status: int) -> None:
    response = post(hf_app, "status", status=status)

    assert response.status_code == status
    assert response.json == {"status": status}


def test_interim_answer_is_a_502_and_its_connection_is_not_reused(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    hints = client.post(fake_model("early-hints"), json={}, headers=KEY_HEADER)
    # The final answer to the 103 is still on that connection: a reused
    # connection would hand it to this request.
    plain = client.post(MODEL_URL, json={"inputs": "next"}, headers=KEY_HEADER)

    assert hints.status_code == 502
    assert hints.json is not None and hints.json["type"] == INVALID
    assert plain.status_code == 200
    assert plain.json == classification("acme/sentiment", {"inputs": "next"})
    assert plain.json != classification("heady-fake/early-hints", {})
    assert [call.path for call in fake_hf.calls][-1] == f"/{MODEL}"


def test_bad_gzip_is_a_502_problem_for_a_client_that_asked_for_identity(
    hf_app: HfAppFactory,
) -> None:
    client = hf_app().test_client()

    response = client.post(
        fake_model("bad-gzip"),
        json={"inputs": "x"},
        headers={**KEY_HEADER, "Accept-Encoding": "identity"},
    )

    assert response.status_code == 502
    assert response.json == {
        "type": INVALID,
        "title": "Bad Gateway",
        "status": 502,
        "detail": "The inference server's answer does not decode as its"
        " Content-Encoding says.",
    }


def test_content_coding_nobody_asked_for_is_a_502_and_not_stored(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    answers = [
        client.post(fake_model("unknown-coding"), json={}, headers=KEY_HEADER)
        for _ in "ab"
    ]

    assert [answer.status_code for answer in answers] == [502, 502]
    assert answers[0].json is not None
    assert answers[0].json["detail"] == (
        "The inference server's answer uses a content coding that was not asked for."
    )
    assert len(fake_hf.calls) == 2


def test_malformed_chunk_size_is_a_502_problem(hf_app: HfAppFactory) -> None:
    response = post(hf_app, "bad-chunks")

    assert response.status_code == 502
    assert response.json is not None and response.json["type"] == CUT_SHORT


def test_control_characters_in_relayed_fields_become_spaces(
    hf_app: HfAppFactory,
) -> None:
    response = post(
        hf_app,
        "fields",
        fields=[
            ["x-compute-note", "req\x00one\x7ftwo\x01three"],
            ["x-compute-characters", "a\x08b"],
            ["x-compute-(odd)", "not a field name"],
        ],
    )

    assert response.status_code == 200
    assert response.headers["x-compute-note"] == "req one two three"
    assert response.headers["x-compute-characters"] == "a b"
    assert "x-compute-(odd)" not in response.headers


def post_for_events(url: str, events: int) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=10
    )
    connection.request(
        "POST",
        "/api/hf/v1/chat/completions",
        body=json.dumps(
            {
                "model": "heady-fake/stream-cut",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
                "parameters": {"events": events},
            }
        ),
        headers={**KEY_HEADER, "Content-Type": "application/json"},
    )
    return connection.getresponse()


def test_event_stream_cut_before_its_first_event_is_a_502_problem(
    hf_app: HfAppFactory,
) -> None:
    with serve(hf_app()) as url:
        response = post_for_events(url, events=0)
        body = response.read()

    assert response.status == 502
    assert response.getheader("Content-Type") == PROBLEM
    assert json.loads(body)["type"] == CUT_SHORT


def test_event_stream_cut_midway_reaches_the_client_cut(
    hf_app: HfAppFactory,
) -> None:
    with serve(hf_app()) as url:
        response = post_for_events(url, events=2)
        status = response.status
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()

    assert status == 200
    # The two events sent came through; the missing last chunk shows the cut.
    assert cut.value.partial.count(b"data: ") == 2
    assert cut.value.partial.startswith(b'data: {"id": "chatcmpl-')
