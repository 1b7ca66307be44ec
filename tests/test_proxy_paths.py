from __future__ import annotations

import http.client
import json
import re
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_heady_edge.errors import BadUpstreamPath
from flask_heady_edge.fake_hf import FakeHuggingFace
from flask_heady_edge.upstream_path import checked_upstream_path

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, HfAppFactory
from .servers import serve

ATTACKS = [
    "a%2Fb",
    "a%2fb",
    "a%5Cb",
    "a%5cb",
    "a\\b",
    "..",
    ".",
    "%2e%2e",
    "%2E",
    "models/../secrets",
    "models/./x",
    "models/%2e%2e/x",
    "/evil.example/models",
    "//evil.example/models",
    "a//b",
    "models/x/",
    "user@evil.example/models",
    "%40evil.example",
    "evil.example:8080/models",
    "http://evil.example/models",
    "https:%2F%2Fevil.example",
    "a%00b",
    "a%20b",
    "a;b",
    "caf%C3%A9",
    "%252F",
]

# The shared fixtures, bound here so pytest finds them in this module.
fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app


def post_raw(url: str, target: str) -> tuple[int, dict[str, str], bytes]:
    """POST exactly ``target`` as the request target, unnormalised."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=10
    )
    try:
        connection.request(
            "POST",
            target,
            body=b"{}",
            headers={**KEY_HEADER, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_path_attacks_get_400_and_never_leave(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    with serve(hf_app()) as url:
        answers = {attack: post_raw(url, f"/api/hf/{attack}") for attack in ATTACKS}
        # RFC 9112 3.2.2: the absolute form of a request target.
        answers["absolute-form"] = post_raw(url, f"{url}/api/hf/a%2Fb")

    for attack, (status, headers, body) in answers.items():
        assert status == 400, attack
        assert headers["Content-Type"] == "application/problem+json", attack
        assert json.loads(body)["type"] == "urn:heady-edge:problem:bad-upstream-path"

    assert fake_hf.calls == []


def test_plain_and_percent_encoded_letters_are_forwarded(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    with serve(hf_app()) as url:
        plain = post_raw(url, "/api/hf/hf-inference/models/Org-1.x/model_2~v3")
        encoded = post_raw(url, "/api/hf/hf-inference/models/%61cme/x")

    assert (plain[0], encoded[0]) == (200, 200)
    assert [call.path for call in fake_hf.calls] == [
        "/hf-inference/models/Org-1.x/model_2~v3",
        "/hf-inference/models/acme/x",
    ]


@pytest.mark.parametrize(
    ("raw_uri", "path"),
    [
        ("/api/hf/a%2Fb", "a/b"),
        ("/api/hf/a%2Fb?x=1", "a/b"),
        ("http://origin/api/hf/a%2fb", "a/b"),
        ("/api/hf/x/a%2F..", "x/a/.."),
    ],
)
def test_encoded_slash_in_the_raw_target_is_refused(raw_uri: str, path: str) -> None:
    with pytest.raises(BadUpstreamPath):
        checked_upstream_path(path, {"RAW_URI": raw_uri})


def test_path_is_checked_without_a_raw_target() -> None:
    assert checked_upstream_path("a/b", {}) == "a/b"
    with pytest.raises(BadUpstreamPath):
        checked_upstream_path("a/../b", {})


_PLAIN = re.compile(r"[A-Za-z0-9._~-]+")


def test_any_segment_is_forwarded_as_is_or_refused_before_leaving(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    @settings(max_examples=150, deadline=None)
    @given(segment=st.text(max_size=12))
    def forwarded_or_refused(segment: str) -> None:
        before = len(fake_hf.calls)

        response = client.post(
            f"/api/hf/models/{quote(segment, safe='')}/x", json={}, headers=KEY_HEADER
        )

        if _PLAIN.fullmatch(segment) and segment not in {".", ".."}:
            assert response.status_code != 400
            assert fake_hf.calls[-1].path == f"/models/{segment}/x"
        else:
            assert response.status_code == 400
            assert len(fake_hf.calls) == before

    forwarded_or_refused()
