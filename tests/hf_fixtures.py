"""Fixtures of the inference proxy tests: a fake upstream, and apps that use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from flask_heady_edge.fake_hf import FakeHuggingFace
from flask_heady_edge.inference_proxy import InferenceProxy
from flask_heady_edge.state import edge_state

from .conftest import API_KEY, AppFactory

SERVER_TOKEN = "hf_server_token_0123456789abcdef"
KEY_HEADER = {"x-heady-api-key": API_KEY}
MODEL = "hf-inference/models/acme/sentiment"
MODEL_URL = f"/api/hf/{MODEL}"

HfAppFactory = Callable[..., Flask]


class FakeClock:
    """Wall time that moves only when a test says so."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_hf() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace() as fake:
        yield fake


@pytest.fixture
def hf_app(make_app: AppFactory, fake_hf: FakeHuggingFace) -> HfAppFactory:
    """An app whose inference proxy points at ``fake_hf``, with a roomy limit."""

    def factory(**config: Any) -> Flask:
        config.setdefault("HEADY_HF_BASE_URL", fake_hf.url)
        config.setdefault("HEADY_HF_TOKEN", SERVER_TOKEN)
        config.setdefault("HEADY_RATE_LIMIT", "100000 per minute")
        return make_app(**config)

    return factory


def proxy_of(app: Flask) -> InferenceProxy:
    proxy: InferenceProxy = edge_state(app).parts["hf"]
    return proxy


def use_clock(app: Flask, clock: FakeClock) -> FakeClock:
    proxy_of(app).cache.clock = clock
    return clock


def calls_to(fake: FakeHuggingFace, path: str) -> int:
    return sum(1 for call in fake.calls if call.path == path)
