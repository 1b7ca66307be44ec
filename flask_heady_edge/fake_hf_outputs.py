"""What the fake inference server answers: deterministic model outputs.

Every output follows from a SHA-256 of the model id and the input, so the
same request always gets the same bytes and tests can compare them.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

CREATED = 1700000000

T = TypeVar("T")


class BadInput(ValueError):
    """A request the fake refuses with 400, as Hugging Face does."""


def parameter(payload: Any, name: str, default: T, kind: Callable[[Any], T]) -> T:
    """``payload["parameters"][name]`` read as ``kind``, or ``default``."""
    parameters = payload.get("parameters") if isinstance(payload, dict) else None
    if not isinstance(parameters, dict) or name not in parameters:
        return default

    value = parameters[name]
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str, list)):
            raise TypeError(value)

        return kind(value)
    except (TypeError, ValueError):
        raise BadInput(f"parameters.{name} is not valid") from None


def _numbers(model: str, value: Any, count: int) -> list[float]:
    """``count`` numbers in [0, 1), fixed by the model and the input."""
    seed = json.dumps([model, value], sort_keys=True).encode()
    digest = hashlib.sha256(seed).digest()
    while len(digest) < count * 2:
        digest += hashlib.sha256(digest).digest()

    return [
        round(struct.unpack(">H", digest[i * 2 : i * 2 + 2])[0] / 65536, 6)
        for i in range(count)
    ]


def inputs_of(payload: Any) -> list[Any]:
    inputs = payload.get("inputs", "") if isinstance(payload, dict) else payload
    return inputs if isinstance(inputs, list) else [inputs]


def classification(model: str, payload: Any) -> list[list[dict[str, Any]]]:
    results = []
    for value in inputs_of(payload):
        positive = _numbers(model, value, 1)[0]
        scores = [("POSITIVE", positive), ("NEGATIVE", round(1 - positive, 6))]
        scores.sort(key=lambda item: item[1], reverse=True)
        results.append([{"label": label, "score": score} for label, score in scores])

    return results


def embeddings(model: str, payload: Any) -> list[list[float]]:
    return [
        [round(number * 2 - 1, 6) for number in _numbers(model, value, 8)]
        for value in inputs_of(payload)
    ]


def _reply(model: str, payload: dict[str, Any]) -> str:
    messages = payload.get("messages") or [{}]
    if not isinstance(messages, list):
        raise BadInput("messages must be a list")

    last = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    return f"Fake {model or 'model'} heard: {last}"


def _completion_id(model: str, payload: Any) -> str:
    seed = json.dumps([model, payload.get("messages")], sort_keys=True).encode()
    return "chatcmpl-" + hashlib.sha256(seed).hexdigest()[:24]


def chat_completion(model: str, payload: dict[str, Any]) -> dict[str, Any]:
    reply = _reply(model, payload)
    return {
        "id": _completion_id(model, payload),
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 8,
            "completion_tokens": len(reply.split()),
            "total_tokens": 8 + len(reply.split()),
        },
    }


def chat_chunks(model: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    words = _reply(model, payload).split(" ")
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": word if i == 0 else f" {word}"}
        for i, word in enumerate(words)
    ]
    chunks = []
    for i, delta in enumerate([*deltas, {}]):
        chunks.append(
            {
                "id": _completion_id(model, payload),
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": model,
                "system_fingerprint": "fake",
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": "stop" if i == len(deltas) else None,
                    }
                ],
            }
        )

    return chunks


def tiny_png(seed: bytes, size: int = 16) -> bytes:
    """A ``size`` x ``size`` RGB PNG whose colours follow from ``seed``."""
    red, green, blue = hashlib.sha256(seed).digest()[:3]
    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes(((red + x * 8) % 256, (green + y * 8) % 256, blue))
            for x in range(size)
        )
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
