"""Bytes and names that every app under test shares, so they answer alike."""

from __future__ import annotations

import json

#: The key every benchmark client sends; the gateway apps accept only it.
API_KEY = "bench-key-4f1c9a7e2b6d"
API_KEY_HEADER = "x-heady-api-key"

#: A limit no benchmark run reaches: the counting is measured, not the 429.
RATE_LIMIT = "1000000000 per hour"

#: The guarded route of row 1 answers this, in the bare app and the gateway app.
ECHO_ANSWER = {"ok": True, "service": "heady"}

#: What the upstream answers an inference request with: a typical
#: text-classification result, about the size of a small model's answer.
INFERENCE_ANSWER = json.dumps(
    [
        [
            {"label": "POSITIVE", "score": 0.9987},
            {"label": "NEGATIVE", "score": 0.0013},
        ]
    ],
    separators=(",", ":"),
).encode()

#: The request body clients post to the inference routes.
INFERENCE_REQUEST = json.dumps(
    {"inputs": "Heady makes the edge and the origin answer alike."},
    separators=(",", ":"),
)

#: The model path, under ``/api/hf/`` at the gateway and at the upstream's root.
MODEL_PATH = "hf-inference/models/heady/bench-sentiment"
