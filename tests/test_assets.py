"""The startup index of the public folder: what it holds, and what it refuses."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
import time
from pathlib import Path

import pytest

from flask_heady_edge.asset_names import (
    content_type_for,
    is_content_hashed,
    is_safe_key,
)
from flask_heady_edge.assets import INLINE_LIMIT, AssetIndex, strong_etag


def write(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@pytest.fixture
def public(tmp_path: Path) -> Path:
    folder = tmp_path / "public"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("module.mjs", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("data.json", "application/json"),
        ("app.js.map", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("engine.wasm", "application/wasm"),
        ("font.woff2", "font/woff2"),
        ("favicon.ico", "image/x-icon"),
        ("logo.png", "image/png"),
        ("photo.webp", "image/webp"),
        ("robots.txt", "text/plain; charset=utf-8"),
        ("INDEX.HTML", "text/html; charset=utf-8"),
        ("archive.tar.gz", "application/gzip"),
        ("no-extension", "application/octet-stream"),
        ("strange.qqq", "application/octet-stream"),
    ],
)
def test_content_type_of_each_name(name: str, expected: str) -> None:
    assert content_type_for(name) == expected


def test_content_types_ignore_the_hosts_mime_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(mimetypes.types_map, ".js", "application/x-javascript")
    monkeypatch.setitem(mimetypes.types_map, ".wasm", "application/octet-stream")

    assert content_type_for("app.js") == "text/javascript; charset=utf-8"
    assert content_type_for("engine.wasm") == "application/wasm"


@pytest.mark.parametrize(
    "name",
    [
        "app.3f9a2c1b.js",
        "app-3F9A2C1B.css",
        "chunk_0a1b2c3d4e.mjs",
        "vendor.deadbeef12345678.js",
        "0a1b2c3d.woff2",
    ],
)
def test_content_hashed_names(name: str) -> None:
    assert is_content_hashed(name)


@pytest.mark.parametrize(
    "name",
    [
        "app.js",
        "index.html",
        "report-20261204.js",
        "build.12345678.js",
        "app.3f9a2c1.js",
        "app3f9a2c1b.js",
        "app.3f9a2c1bz.js",
        "facade.css",
    ],
)
def test_names_without_a_content_hash(name: str) -> None:
    assert not is_content_hashed(name)


def test_immutable_pattern_replaces_the_rule() -> None:
    pattern = re.compile(r"^static-")

    assert is_content_hashed("static-app.js", pattern)
    assert not is_content_hashed("app.3f9a2c1b.js", pattern)


@pytest.mark.parametrize(
    "key",
    ["app.js", "docs/index.html", ".well-known/security.txt", "a b/ü.txt", "x..y"],
)
def test_safe_keys(key: str) -> None:
    assert is_safe_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../secret",
        "docs/../../secret",
        "./app.js",
        "docs//index.html",
        "docs/",
        "..\\secret",
        "app.js\x00.png",
        "line\nbreak",
        ".env",
        ".git/config",
        "docs/.hidden",
        "docs/.well-known/x",
        ".well-known/.secret",
    ],
)
def test_unsafe_keys(key: str) -> None:
    assert not is_safe_key(key)


def test_strong_etag_is_a_quoted_digest_prefix() -> None:
    digest = hashlib.sha256(b"content").digest()
    expected = base64.urlsafe_b64encode(digest[:18]).decode()

    assert strong_etag(digest) == f'"{expected}"'


def test_index_holds_servable_files_only(public: Path, tmp_path: Path) -> None:
    write(
        public,
        {
            "index.html": b"<h1>home</h1>",
            "app.js": b"plain",
            "app.js.br": b"brotli bytes",
            "app.js.gz": b"gzip bytes",
            "archive.tar.gz": b"an archive",
            "docs/index.html": b"docs",
            ".env": b"SECRET=1",
            ".git/config": b"[core]",
            "docs/.hidden": b"hidden",
            ".well-known/security.txt": b"Contact: x",
        },
    )
    (tmp_path / "secret.txt").write_bytes(b"outside")
    (public / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (public / "outside").symlink_to(tmp_path, target_is_directory=True)
    (public / "alias.js").symlink_to(public / "app.js")

    index = AssetIndex(str(public))

    assert index.keys() == [
        ".well-known/security.txt",
        "alias.js",
        "app.js",
        "archive.tar.gz",
        "docs/index.html",
        "index.html",
    ]


def test_siblings_become_variants_with_their_own_etags(public: Path) -> None:
    write(public, {"app.js": b"plain", "app.js.br": b"br", "app.js.gz": b"gz"})

    asset = AssetIndex(str(public)).find("app.js")

    assert asset is not None
    assert [coding for coding, _ in asset.variants] == ["br", "gzip"]
    etags = {asset.plain.etag, *(variant.etag for _, variant in asset.variants)}
    assert len(etags) == 3
    assert ("Vary", "Accept-Encoding") in asset.plain.headers
    assert ("Content-Encoding", "br") in asset.variants[0][1].headers


def test_folder_keys_name_their_index(public: Path) -> None:
    write(public, {"index.html": b"home", "docs/index.html": b"docs"})
    index = AssetIndex(str(public))

    root, docs = index.find(""), index.find("docs/")

    assert root is not None and root.key == "index.html"
    assert docs is not None and docs.key == "docs/index.html"
    assert index.find("docs") is None


def test_etag_depends_on_content_only(public: Path) -> None:
    write(public, {"app.js": b"same bytes"})
    before = AssetIndex(str(public)).find("app.js")
    os.utime(public / "app.js", (1_000_000_000, 1_000_000_000))
    after = AssetIndex(str(public)).find("app.js")

    assert before is not None and after is not None
    assert before.plain.etag == after.plain.etag
    assert before.plain.last_modified != after.plain.last_modified


def test_last_modified_is_never_in_the_future(public: Path) -> None:
    write(public, {"app.js": b"x"})
    future = time.time() + 10 * 86400
    os.utime(public / "app.js", (future, future))

    asset = AssetIndex(str(public)).find("app.js")

    assert asset is not None
    assert asset.plain.last_modified <= time.time()


def test_small_files_are_kept_in_memory_and_large_ones_are_not(public: Path) -> None:
    small_content, large_content = b"s" * INLINE_LIMIT, b"l" * (INLINE_LIMIT + 1)
    write(public, {"small.js": small_content, "large.js": large_content})
    index = AssetIndex(str(public))

    small, large = index.find("small.js"), index.find("large.js")

    assert small is not None and small.plain.content == small_content
    assert large is not None and large.plain.content is None
    assert large.plain.size == len(large_content)
    expected = strong_etag(hashlib.sha256(large_content).digest())
    assert large.plain.etag == expected


def test_symlink_loop_does_not_hang_the_walk(public: Path) -> None:
    write(public, {"docs/page.html": b"page"})
    (public / "docs" / "again").symlink_to(public, target_is_directory=True)

    index = AssetIndex(str(public))

    assert "docs/page.html" in index.keys()
    assert "docs/again/docs/page.html" not in index.keys()


def test_special_files_are_skipped(public: Path) -> None:
    write(public, {"app.js": b"x"})
    os.mkfifo(public / "pipe.js")

    assert AssetIndex(str(public)).keys() == ["app.js"]


def test_without_autoreload_the_startup_index_holds(public: Path) -> None:
    write(public, {"app.js": b"first"})
    index = AssetIndex(str(public))
    (public / "app.js").write_bytes(b"second version")
    write(public, {"new.js": b"new"})

    asset = index.find("app.js")

    assert asset is not None and asset.plain.content == b"first"
    assert index.find("new.js") is None


def test_autoreload_sees_changed_added_and_removed_files(public: Path) -> None:
    write(public, {"app.js": b"first", "gone.js": b"gone"})
    index = AssetIndex(str(public), autoreload=True)
    first = index.find("app.js")

    (public / "app.js").write_bytes(b"second version")
    os.utime(public / "app.js", (2_000_000_000, 2_000_000_000))
    write(public, {"new.js": b"new", "app.js.gz": b"gz"})
    (public / "gone.js").unlink()

    changed = index.find("app.js")
    assert first is not None and changed is not None
    assert changed.plain.content == b"second version"
    assert changed.plain.etag != first.plain.etag
    assert [coding for coding, _ in changed.variants] == ["gzip"]
    assert index.find("new.js") is not None
    assert index.find("gone.js") is None
    assert index.find("app.js.gz") is None


def test_autoreload_refuses_what_startup_refuses(public: Path, tmp_path: Path) -> None:
    index = AssetIndex(str(public), autoreload=True)
    (tmp_path / "secret.txt").write_bytes(b"outside")
    write(public, {".env": b"SECRET=1"})
    (public / "leak.txt").symlink_to(tmp_path / "secret.txt")

    absolute = str(tmp_path / "secret.txt")
    for key in ["../secret.txt", ".env", "leak.txt", absolute, absolute.lstrip("/")]:
        assert index.find(key) is None
