from __future__ import annotations

import http.client
import json
import time
from itertools import pairwise
from urllib.parse import urlsplit

from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, HfAppFactory
from .servers import serve

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

EVENT_GAP = 0.2


def read_events(url: str, body: dict[str, object]) -> list[tuple[float, bytes]]:
    """POST ``body`` and note when each server-sent event arrives."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=10
    )
    try:
        started = time.monotonic()
        connection.request(
            "POST",
            f"{parts.path}",
            body=json.dumps(body),
            headers={**KEY_HEADER, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"

        events, pending = [], b""
        while data := response.read1(65536):
            pending += data
            while b"\n\n" in pending:
                event, pending = pending.split(b"\n\n", 1)
                events.append((time.monotonic() - started, event))

        return events
    finally:
        connection.close()


def test_events_reach_the_client_as_the_upstream_sends_them(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    fake_hf.event_delay = EVENT_GAP
    body = {
        "model": "acme/chat",
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }

    with serve(hf_app()) as url:
        events = read_events(f"{url}/api/hf/v1/chat/completions", body)

    # "Fake acme/chat heard: hi": four words, a closing chunk and [DONE].
    assert len(events) == 6
    assert events[-1][1] == b"data: [DONE]"
    first_chunk = json.loads(events[0][1].removeprefix(b"data: "))
    assert first_chunk["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "Fake",
    }

    arrivals = [arrived for arrived, _event in events]
    assert arrivals[0] < EVENT_GAP
    assert arrivals[-1] - arrivals[0] >= 5 * EVENT_GAP * 0.9
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert min(gaps) >= EVENT_GAP * 0.5
