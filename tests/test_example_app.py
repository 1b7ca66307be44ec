"""The demo app: configuration from the environment and its offline defaults."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import example_app
from flask_heady_edge.fake_hf import FakeHuggingFace

PUBLIC = str(Path(example_app.__file__).resolve().parent.parent / "public")


@pytest.fixture
def demo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the demo from a scratch folder, with no HEADY_* in the environment."""
    for name in list(example_app.os.environ):
        if name.startswith("HEADY_"):
            monkeypatch.delenv(name)

    monkeypatch.setattr(example_app, "ROOT", tmp_path)
    monkeypatch.setenv("HEADY_PUBLIC_DIR", PUBLIC)
    return tmp_path


def test_settings_come_from_heady_environment_variables(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADY_API_KEY", "from-the-environment")
    monkeypatch.setenv("HEADY_RATE_LIMIT", "2 per minute")
    monkeypatch.setenv("HEADY_HF_BASE_URL", "http://127.0.0.1:9")
    client = example_app.create_app().test_client()

    assert client.get("/api/status").status_code == 401
    answer = client.get(
        "/api/status", headers={"x-heady-api-key": "from-the-environment"}
    )
    assert answer.status_code == 200
    assert answer.headers["X-RateLimit-Limit"] == "2"
    assert answer.json == {"service": "heady", "notes": 0}


def test_without_a_key_the_demo_makes_one_and_prints_only_its_path(
    demo_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HEADY_HF_BASE_URL", "http://127.0.0.1:9")
    app = example_app.create_app()

    key_file = demo_root / "instance" / "demo-api-key"
    key = key_file.read_text().strip()
    assert len(key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    printed = capsys.readouterr().err
    assert str(key_file) in printed
    assert key not in printed

    client = app.test_client()
    assert client.get("/api/notes", headers={"x-heady-api-key": key}).json == {
        "notes": []
    }
    assert example_app.create_app().config["HEADY_API_KEY"] == key


def test_without_an_upstream_the_demo_proxies_to_the_fake_server(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADY_API_KEY", "k")
    app = example_app.create_app()

    assert app.config["HEADY_HF_BASE_URL"].startswith("http://127.0.0.1:")
    answer = app.test_client().post(
        "/api/hf/hf-inference/models/distilbert/distilbert-base-uncased",
        json={"inputs": "an offline demo"},
        headers={"x-heady-api-key": "k"},
    )
    assert answer.status_code == 200
    assert answer.headers["X-Heady-Cache"] == "MISS"
    assert [label["label"] for label in answer.json[0]] in (
        ["POSITIVE", "NEGATIVE"],
        ["NEGATIVE", "POSITIVE"],
    )


def test_notes_route_rejects_a_body_without_text(demo_root: Path) -> None:
    with FakeHuggingFace() as fake:
        app = example_app.create_app(
            {"HEADY_API_KEY": "k", "HEADY_HF_BASE_URL": fake.url}
        )
        client = app.test_client()
        headers = {"x-heady-api-key": "k"}

        blank = client.post("/api/notes", json={"text": " "}, headers=headers)
        assert blank.status_code == 400
        created = client.post("/api/notes", json={"text": "hello"}, headers=headers)
        assert created.status_code == 201
        assert created.json == {"notes": ["hello"]}


def test_demo_serves_the_admin_ide_at_the_root(demo_root: Path) -> None:
    app = example_app.create_app(
        {"HEADY_API_KEY": "k", "HEADY_HF_BASE_URL": "http://127.0.0.1:9"}
    )
    answer = app.test_client().get("/")

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-cache"
    assert b"<html" in answer.data.lower()
