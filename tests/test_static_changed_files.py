"""Files read again at request time are sent only while they are the ones indexed."""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from flask_heady_edge.asset_files import FileIdentity, IndexedFolder
from flask_heady_edge.assets import INLINE_LIMIT, AssetIndex

from .conftest import AppFactory
from .servers import serve

#: Too large to be kept in memory, so each answer opens the file again.
BIG = b"indexed bytes\n" + random.Random(1).randbytes(INLINE_LIMIT)
BIG_GZ = b"indexed bytes, coded\n" + random.Random(2).randbytes(INLINE_LIMIT)
SECRET = b"root:x:0:0:root:/root:/bin/sh\n"

ASSETS_LOGGER = "flask_heady_edge.asset_files"


@pytest.fixture
def public(tmp_path: Path) -> Path:
    folder = tmp_path / "public"
    (folder / "docs").mkdir(parents=True)
    for name in ("big.txt", "docs/big.txt", "zipped.txt"):
        (folder / name).write_bytes(BIG)
    (folder / "zipped.txt.gz").write_bytes(BIG_GZ)

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.txt").write_bytes(SECRET)
    (outside / "passwd").write_bytes(SECRET)
    return folder


def symlink_out(public: Path, name: str) -> None:
    """``rm name; ln -s ../outside/passwd name``."""
    (public / name).unlink()
    (public / name).symlink_to(public.parent / "outside" / "passwd")


def replace_by_rename(public: Path, name: str) -> None:
    """A new file renamed over the old one: the same bytes, another inode."""
    (public / "incoming").write_bytes(BIG)
    (public / "incoming").rename(public / name)


def rewrite_in_place(public: Path, name: str) -> None:
    with open(public / name, "r+b") as handle:
        handle.write(b"X")
    os.utime(public / name, ns=(2_000_000_000 * 10**9, 2_000_000_000 * 10**9))


def truncate(public: Path, name: str) -> None:
    with open(public / name, "r+b") as handle:
        handle.truncate(10)


def folder_swapped_for_symlink(public: Path, name: str) -> None:
    (public / "docs").rename(public / "docs.old")
    (public / "docs").symlink_to(public.parent / "outside", target_is_directory=True)


def swapped_for_fifo(public: Path, name: str) -> None:
    (public / name).unlink()
    os.mkfifo(public / name)


CHANGES: dict[str, tuple[str, Callable[[Path, str], None]]] = {
    "symlink": ("big.txt", symlink_out),
    "renamed-over": ("big.txt", replace_by_rename),
    "rewritten": ("big.txt", rewrite_in_place),
    "truncated": ("big.txt", truncate),
    "folder-symlink": ("docs/big.txt", folder_swapped_for_symlink),
    "sibling-symlink": ("zipped.txt.gz", symlink_out),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_changed_file_gets_404_without_autoreload(
    make_app: AppFactory,
    public: Path,
    change: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, make_change = CHANGES[change]
    url = "/" + name.removesuffix(".gz")
    gzip_only = {"Accept-Encoding": "gzip"}
    app = make_app(HEADY_PUBLIC_DIR=str(public), HEADY_STATIC_AUTORELOAD=False)
    client = app.test_client()
    with client.get(url, headers=gzip_only) as before:
        assert before.status_code == 200
        assert before.get_data() == (BIG_GZ if name.endswith(".gz") else BIG)

    make_change(public, name)
    caplog.set_level(logging.WARNING, logger=ASSETS_LOGGER)
    answers = [
        client.get(url, headers=gzip_only),
        client.get(url, headers={"Range": "bytes=0-9", **gzip_only}),
        client.head(url, headers=gzip_only),
    ]

    for response in answers:
        assert response.status_code == 404
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert SECRET not in response.data and b"indexed bytes" not in response.data

    warnings = [r for r in caplog.records if r.name == ASSETS_LOGGER]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert str(public / name) in warnings[0].getMessage()
    assert "since startup" in warnings[0].getMessage()


def test_symlinked_file_gets_404_with_autoreload(
    make_app: AppFactory, public: Path
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=str(public), HEADY_STATIC_AUTORELOAD=True)
    client = app.test_client()
    with client.get("/big.txt") as before:
        assert before.status_code == 200

    symlink_out(public, "big.txt")
    response = client.get("/big.txt")

    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert SECRET not in response.data


def test_unchanged_large_file_and_its_sibling_are_still_sent(
    make_app: AppFactory, public: Path
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=str(public))
    client = app.test_client()
    (public / "unrelated.txt").write_bytes(b"a new file beside it")

    with client.get("/docs/big.txt") as plain:
        assert plain.get_data() == BIG
    with client.get("/zipped.txt", headers={"Accept-Encoding": "gzip"}) as zipped:
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert zipped.get_data() == BIG_GZ


def test_symlinked_file_over_a_real_socket_gets_a_whole_404(
    make_app: AppFactory, public: Path
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=str(public), HEADY_STATIC_AUTORELOAD=False)

    with serve(app) as base_url:
        assert requests.get(base_url + "/big.txt", timeout=10).content == BIG
        symlink_out(public, "big.txt")
        response = requests.get(base_url + "/big.txt", timeout=10)

    assert response.status_code == 404
    assert response.headers["Content-Length"] == str(len(response.content))
    assert response.json()["status"] == 404
    assert SECRET not in response.content


def test_opening_a_fifo_in_place_of_the_file_does_not_block(public: Path) -> None:
    index = AssetIndex(str(public))
    asset = index.find("big.txt")
    assert asset is not None
    swapped_for_fifo(public, "big.txt")
    opened: list[object] = []

    worker = threading.Thread(
        target=lambda: opened.append(asset.plain.source.open()), daemon=True
    )
    worker.start()
    worker.join(timeout=5)

    assert not worker.is_alive()
    assert opened == [None]


def test_indexed_folder_opens_only_the_identified_file(public: Path) -> None:
    folder = IndexedFolder(str(public), autoreload=False)
    identity = FileIdentity.of(os.stat(public / "docs" / "big.txt"))

    handle = folder.open(("docs", "big.txt"), identity)
    assert handle is not None
    with handle:
        assert handle.read() == BIG

    assert folder.open(("big.txt",), identity) is None
    assert folder.open(("docs", "missing.txt"), identity) is None
