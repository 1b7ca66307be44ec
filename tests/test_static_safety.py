"""Nothing outside the public folder is ever served: PROTOCOL.md section 4.8."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes, urlsplit

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import AppFactory
from .servers import serve

SECRET = b"TOP-SECRET-never-to-be-served"

PUBLIC_FILES = {
    "index.html": b"<!doctype html><title>shell</title>",
    "app.js": b"console.log('app');\n",
    "docs/index.html": b"<h1>docs</h1>",
    ".well-known/security.txt": b"Contact: mailto:security@example.test\n",
}

NAVIGATION = {"Accept": "text/html"}


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A public folder, with secrets beside it and hidden or linked inside it."""
    public = tmp_path / "public"
    for name, content in PUBLIC_FILES.items():
        path = public / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "keys.txt").write_bytes(SECRET)
    (public / ".env").write_bytes(SECRET)
    (public / ".git").mkdir()
    (public / ".git" / "config").write_bytes(SECRET)
    (public / "docs" / ".hidden.js").write_bytes(SECRET)
    (public / "leak.txt").symlink_to(secret)
    (public / "outside").symlink_to(tmp_path / "private", target_is_directory=True)
    (public / "alias.js").symlink_to(public / "app.js")
    return public, secret


@pytest.fixture(params=[False, True], ids=["startup-index", "autoreload"])
def app(
    request: pytest.FixtureRequest, make_app: AppFactory, layout: tuple[Path, Path]
) -> Flask:
    return make_app(
        HEADY_PUBLIC_DIR=str(layout[0]), HEADY_STATIC_AUTORELOAD=request.param
    )


def attacks(secret: Path) -> list[str]:
    absolute = str(secret)
    return [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/%2e%2e%5csecret.txt",
        "/docs/../../secret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "/.well-known/../../secret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..%255csecret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/app.js%00.txt",
        "/%00",
        "/.env",
        "/.git/config",
        "/docs/.hidden.js",
        "/leak.txt",
        "/outside/keys.txt",
        "/" + quote(absolute, safe=""),
        "/" + quote(absolute, safe="/"),
        "/" + quote(quote(absolute, safe=""), safe=""),
    ]


def test_alias_symlink_inside_the_folder_is_served(app: Flask) -> None:
    response = app.test_client().get("/alias.js")

    assert response.status_code == 200
    assert response.data == PUBLIC_FILES["app.js"]


def test_well_known_is_served(app: Flask) -> None:
    response = app.test_client().get("/.well-known/security.txt")

    assert response.data == PUBLIC_FILES[".well-known/security.txt"]


@pytest.mark.parametrize("navigation", [False, True], ids=["plain", "navigation"])
def test_each_path_attack_gets_404(
    app: Flask, layout: tuple[Path, Path], navigation: bool
) -> None:
    client = app.test_client()
    headers = NAVIGATION if navigation else {}

    for path in attacks(layout[1]):
        response = client.get(path, headers=headers)

        assert response.status_code == 404, path
        assert SECRET not in response.data, path
        assert response.headers["Cache-Control"] == "no-store", path


PIECES = st.sampled_from(
    [
        "..",
        ".",
        "%2e%2e",
        "%2E%2e",
        "%2e",
        "%2f",
        "%2F",
        "%5c",
        "\\",
        "%00",
        "%252e%252e%252f",
        "%255c",
        "%c0%ae",
        "%u002e",
        ".env",
        ".git",
        "config",
        ".well-known",
        "security.txt",
        "secret.txt",
        "private",
        "keys.txt",
        "outside",
        "leak.txt",
        "alias.js",
        "app.js",
        "docs",
        "index.html",
        "~",
        "tmp",
        "",
        ";",
        "%3b",
        "a b",
        "%20",
    ]
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pieces=st.lists(PIECES, min_size=1, max_size=7),
    separators=st.lists(st.sampled_from(["/", "%2f", "\\", "//"]), min_size=7),
    navigation=st.booleans(),
)
def test_no_built_path_reaches_outside(
    app: Flask, pieces: list[str], separators: list[str], navigation: bool
) -> None:
    path = "/" + "".join(
        piece + separator for piece, separator in zip(pieces, separators, strict=False)
    )
    allowed = set(PUBLIC_FILES.values())

    # Decoded once, as a WSGI server does (PEP 3333), and set directly: the
    # test client would read a leading "//" as a host name.
    response = app.test_client().get(
        "/",
        headers=NAVIGATION if navigation else {},
        environ_overrides={"PATH_INFO": unquote_to_bytes(path).decode("latin-1")},
    )

    assert response.status_code < 500, path
    assert SECRET not in response.data, path
    if response.status_code == 200:
        assert response.data in allowed, path


def raw_request(base_url: str, target: str) -> tuple[int, bytes]:
    """Send a request line as it is, past any client that would clean it."""
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            "Accept: text/html\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk

    return int(received.split(b" ", 2)[1]), received


def test_raw_request_lines_over_a_real_socket(
    make_app: AppFactory, layout: tuple[Path, Path]
) -> None:
    public, secret = layout
    app = make_app(HEADY_PUBLIC_DIR=str(public))
    targets = [*attacks(secret), "//" + str(secret).lstrip("/"), str(secret)]
    unusual = ["../secret.txt", "http://127.0.0.1/../secret.txt", "/\x00/x"]

    with serve(app) as base_url:
        assert raw_request(base_url, "/app.js")[0] == 200
        for target in targets:
            status, received = raw_request(base_url, target)

            assert status == 404, target
            assert SECRET not in received, target

        # Targets a server may refuse before the app sees them.
        for target in unusual:
            status, received = raw_request(base_url, target)

            assert status in {400, 404}, target
            assert SECRET not in received, target
