from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, MODEL_URL, HfAppFactory
from .servers import serve

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

LOADING_URL = "/api/hf/hf-inference/models/heady-fake/loading"


def post_together(urls: list[str], body: dict[str, object]) -> list[requests.Response]:
    """POST ``body`` to every URL at once, one thread and connection each."""
    start = threading.Barrier(len(urls))

    def post(url: str) -> requests.Response:
        start.wait()
        return requests.post(url, json=body, headers=KEY_HEADER, timeout=30)

    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return list(pool.map(post, urls))


def test_identical_concurrent_misses_make_one_upstream_call(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    fake_hf.answer_delay = 0.3

    with serve(hf_app()) as url:
        answers = post_together([f"{url}{MODEL_URL}"] * 32, {"inputs": "together"})

    assert len(fake_hf.calls) == 1
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    assert {answer.headers["Content-Type"] for answer in answers} == {
        "application/json"
    }
    statuses = sorted(answer.headers["Cache-Status"] for answer in answers)
    assert statuses.count("heady-origin; fwd=uri-miss; fwd-status=200; stored") == 1
    assert set(statuses) <= {
        "heady-origin; fwd=uri-miss; fwd-status=200; stored",
        "heady-origin; fwd=uri-miss; fwd-status=200; collapsed",
        "heady-origin; hit; ttl=86400",
    }


def test_waiters_get_the_leaders_error_answer(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    fake_hf.answer_delay = 0.5

    with serve(hf_app()) as url:
        answers = post_together([f"{url}{LOADING_URL}"] * 8, {"inputs": "x"})

    assert len(fake_hf.calls) == 1
    assert {answer.status_code for answer in answers} == {503}
    assert {answer.headers["Retry-After"] for answer in answers} == {"8"}
    assert len({answer.content for answer in answers}) == 1
    statuses = [answer.headers["Cache-Status"] for answer in answers]
    assert statuses.count("heady-origin; fwd=uri-miss; fwd-status=503; collapsed") == 7


def test_waiters_give_up_with_the_leader_after_the_timeout(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    app = hf_app(HEADY_HF_TIMEOUT="1")

    with serve(app) as url:
        answers = post_together(
            [f"{url}/api/hf/hf-inference/models/heady-fake/silent"] * 4, {"inputs": "x"}
        )

    assert len(fake_hf.calls) == 1
    assert {answer.status_code for answer in answers} == {504}
    assert {answer.json()["type"] for answer in answers} == {
        "urn:heady-edge:problem:upstream-timeout"
    }


def test_bypassing_requests_are_not_collapsed(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    fake_hf.answer_delay = 0.2

    with serve(hf_app()) as url:
        start = threading.Barrier(3)

        def post(_: int) -> requests.Response:
            start.wait()
            return requests.post(
                f"{url}{MODEL_URL}",
                json={"inputs": "x"},
                headers={**KEY_HEADER, "x-use-cache": "false"},
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(post, range(3)))

    assert len(fake_hf.calls) == 3
    assert {answer.headers["X-Heady-Cache"] for answer in answers} == {"BYPASS"}


def test_apps_sharing_redis_make_one_call_between_them(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, redis_url: str
) -> None:
    fake_hf.answer_delay = 0.4
    config = {"HEADY_CACHE_TYPE": "RedisCache", "HEADY_CACHE_REDIS_URL": redis_url}

    with serve(hf_app(**config)) as one, serve(hf_app(**config)) as two:
        answers = post_together(
            [f"{one}{MODEL_URL}", f"{two}{MODEL_URL}"] * 6, {"inputs": "shared"}
        )
        errors = post_together(
            [f"{one}{LOADING_URL}", f"{two}{LOADING_URL}"] * 3, {"inputs": "shared"}
        )
        cut = "/api/hf/hf-inference/models/heady-fake/cut-short"
        problems = post_together([f"{one}{cut}", f"{two}{cut}"], {"inputs": "shared"})

    assert [call.path for call in fake_hf.calls] == [
        "/hf-inference/models/acme/sentiment",
        "/hf-inference/models/heady-fake/loading",
        "/hf-inference/models/heady-fake/cut-short",
    ]
    assert len({answer.content for answer in answers}) == 1
    assert {answer.status_code for answer in errors} == {503}
    assert {answer.headers["Retry-After"] for answer in errors} == {"8"}
    assert {answer.status_code for answer in problems} == {502}
    assert {answer.json()["type"] for answer in problems} == {
        "urn:heady-edge:problem:upstream-cut-short"
    }
