"""The official ``huggingface_hub`` client, pointed at the proxy and at the fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import huggingface_hub
import numpy as np
import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.utils._http import default_client_factory

from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, HfAppFactory
from .servers import serve

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

# Always explicit: without one the client sends whatever token the machine holds.
CLIENT_TOKEN = "hf_dummy_client_token"
MESSAGES = [{"role": "user", "content": "Tell me about foxes"}]


class LoopbackOnly(httpx2.BaseTransport):
    """Lets the client reach servers on 127.0.0.1 and nothing else."""

    def __init__(self) -> None:
        self.transport = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host != "127.0.0.1":
            raise AssertionError(f"the client tried to reach {request.url.host}")

        return self.transport.handle_request(request)

    def close(self) -> None:
        self.transport.close()


@pytest.fixture
def loopback_hub_client() -> Iterator[None]:
    huggingface_hub.set_client_factory(
        lambda: httpx2.Client(transport=LoopbackOnly(), trust_env=False, timeout=30)
    )
    yield
    huggingface_hub.set_client_factory(default_client_factory)


def ask_everything(base: str, headers: dict[str, str]) -> dict[str, Any]:
    """Every task the proxy must carry, as the client parses it."""
    client = InferenceClient(token=CLIENT_TOKEN, headers=headers)
    models = f"{base}/hf-inference/models"
    chat = InferenceClient(base_url=f"{base}/v1", token=CLIENT_TOKEN, headers=headers)
    image = client.text_to_image(
        "a red fox", model=f"{models}/heady-fake/text-to-image"
    )

    return {
        "classification": client.text_classification(
            "I like foxes", model=f"{models}/acme/sentiment"
        ),
        "features": client.feature_extraction(
            "I like foxes",
            model=f"{models}/acme/embedder/pipeline/feature-extraction",
        ),
        "image": (image.size, image.mode, image.tobytes()),
        "chat": chat.chat_completion(MESSAGES, model="acme/chat", max_tokens=32),
        "stream": list(
            chat.chat_completion(
                MESSAGES, model="acme/chat", stream=True, max_tokens=32
            )
        ),
    }


@pytest.mark.usefixtures("loopback_hub_client")
def test_hub_client_gets_the_same_results_through_the_proxy(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    direct = ask_everything(fake_hf.url, {})

    with serve(hf_app()) as url:
        proxied = ask_everything(f"{url}/api/hf", KEY_HEADER)
        cached = ask_everything(f"{url}/api/hf", KEY_HEADER)

    assert proxied["classification"] == direct["classification"]
    assert [item.label for item in proxied["classification"]] == [
        "POSITIVE",
        "NEGATIVE",
    ]
    assert np.array_equal(proxied["features"], direct["features"])
    assert proxied["features"].shape == (1, 8)
    assert proxied["image"] == direct["image"]
    assert proxied["image"][:2] == ((16, 16), "RGB")
    assert proxied["chat"] == direct["chat"]
    assert proxied["chat"].choices[0].message.content == (
        "Fake acme/chat heard: Tell me about foxes"
    )
    assert proxied["stream"] == direct["stream"]
    assert "".join(
        chunk.choices[0].delta.content or "" for chunk in proxied["stream"]
    ) == ("Fake acme/chat heard: Tell me about foxes")

    # The second round comes from the cache, except the streamed chat.
    assert cached["classification"] == direct["classification"]
    assert cached["image"] == direct["image"]
    assert cached["stream"] == direct["stream"]
    assert len(fake_hf.calls) == 5 + 5 + 1


@pytest.mark.usefixtures("loopback_hub_client")
def test_hub_client_token_and_api_key_stop_at_the_proxy(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    with serve(hf_app()) as url:
        InferenceClient(token=CLIENT_TOKEN, headers=KEY_HEADER).text_classification(
            "x", model=f"{url}/api/hf/hf-inference/models/acme/sentiment"
        )

    [call] = fake_hf.calls
    assert call.headers["authorization"] == f"Bearer {hf_fixtures.SERVER_TOKEN}"
    assert CLIENT_TOKEN not in str(call.headers)
    assert "x-heady-api-key" not in call.headers
