"""Static asset delivery through the app: PROTOCOL.md sections 4.1 to 4.7."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import pytest
from flask import Flask, url_for
from werkzeug.http import parse_date
from werkzeug.test import TestResponse

from flask_heady_edge import ConfigError, HeadyEdge

from .conftest import API_KEY, AppFactory

SHELL = b"<!doctype html><title>shell</title>"
PLAIN_JS = b"console.log('plain');\n" * 40
BROTLI_JS = b"pretend brotli bytes of app.js"
GZIP_JS = gzip.compress(PLAIN_JS, mtime=0)

SITE = {
    "index.html": SHELL,
    "app.js": PLAIN_JS,
    "app.js.br": BROTLI_JS,
    "app.js.gz": GZIP_JS,
    "app.3f9a2c1b.js": b"console.log('hashed');\n",
    "report-20261204.js": b"report();\n",
    "only-gz.css": b"body { color: red }\n",
    "only-gz.css.gz": gzip.compress(b"body { color: red }\n", mtime=0),
    "archive.tar.gz": b"an archive, not a variant",
    "docs/index.html": b"<h1>docs</h1>",
    "assets/logo.svg": b"<svg/>",
    "open": b"a file named like an app route",
    "api/secret.json": b'{"from": "the public folder"}',
}

NAVIGATION = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def write_site(folder: Path, files: dict[str, bytes] = SITE) -> str:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    return str(folder)


@pytest.fixture
def public(tmp_path: Path) -> str:
    return write_site(tmp_path / "site")


@pytest.fixture
def app(make_app: AppFactory, public: str) -> Flask:
    return make_app(HEADY_PUBLIC_DIR=public)


def assert_stamped(response: TestResponse) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Heady-Served-By"] == "origin"


def test_mount_point_answers_index_html_with_no_cache(app: Flask) -> None:
    response = app.test_client().get("/")

    assert response.status_code == 200
    assert response.data == SHELL
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert_stamped(response)


def test_mount_under_a_prefix(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_STATIC_URL_PREFIX="/admin")
    client = app.test_client()

    index = client.get("/admin/")
    bare = client.get("/admin?tab=keys")
    asset = client.get("/admin/app.3f9a2c1b.js")

    assert index.status_code == 200 and index.data == SHELL
    assert index.headers["Cache-Control"] == "no-cache"
    assert bare.status_code == 308
    assert bare.headers["Location"] == "/admin/?tab=keys"
    assert_stamped(bare)
    assert asset.status_code == 200
    assert client.get("/app.3f9a2c1b.js").status_code == 404
    assert client.get("/admin/settings", headers=NAVIGATION).data == SHELL


def test_folder_with_index_html_answers_and_redirects(app: Flask) -> None:
    client = app.test_client()

    folder = client.get("/docs/")
    bare = client.get("/docs?page=2")

    assert folder.status_code == 200 and folder.data == b"<h1>docs</h1>"
    assert bare.status_code == 308
    assert bare.headers["Location"] == "/docs/?page=2"
    assert client.get("/assets/").status_code == 404


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("/app.3f9a2c1b.js", "public, max-age=31536000, immutable"),
        ("/app.js", "no-cache"),
        ("/report-20261204.js", "no-cache"),
        ("/index.html", "no-cache"),
        ("/docs/", "no-cache"),
    ],
)
def test_cache_control_by_name(app: Flask, path: str, cache_control: str) -> None:
    response = app.test_client().get(path)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == cache_control


def test_immutable_pattern_setting(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_IMMUTABLE_PATTERN=r"^report-")
    client = app.test_client()

    immutable = client.get("/report-20261204.js").headers["Cache-Control"]
    assert immutable == "public, max-age=31536000, immutable"
    assert client.get("/app.3f9a2c1b.js").headers["Cache-Control"] == "no-cache"


def test_types_and_stamps(app: Flask) -> None:
    client = app.test_client()

    script = client.get("/app.3f9a2c1b.js")
    image = client.get("/assets/logo.svg")
    archive = client.get("/archive.tar.gz")

    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert image.headers["Content-Type"] == "image/svg+xml"
    assert archive.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in archive.headers
    for response in (script, image, archive):
        assert_stamped(response)


def test_etag_and_last_modified(app: Flask, public: str) -> None:
    response = app.test_client().get("/app.3f9a2c1b.js")

    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    modified = parse_date(response.headers["Last-Modified"])
    assert modified is not None
    mtime = os.stat(os.path.join(public, "app.3f9a2c1b.js")).st_mtime
    assert int(modified.timestamp()) == int(mtime)


def test_etag_survives_restart_and_touch(make_app: AppFactory, public: str) -> None:
    first = make_app(HEADY_PUBLIC_DIR=public).test_client().get("/app.js")
    os.utime(os.path.join(public, "app.js"), (1_500_000_000, 1_500_000_000))
    second = make_app(HEADY_PUBLIC_DIR=public).test_client().get("/app.js")

    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["Last-Modified"] != second.headers["Last-Modified"]


@pytest.mark.parametrize("if_none_match", ["{etag}", '"old", {etag}', "W/{etag}", "*"])
def test_if_none_match_gets_304(app: Flask, if_none_match: str) -> None:
    client = app.test_client()
    etag = client.get("/app.3f9a2c1b.js").headers["ETag"]

    response = client.get(
        "/app.3f9a2c1b.js",
        headers={"If-None-Match": if_none_match.format(etag=etag)},
    )

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Content-Type" not in response.headers
    assert_stamped(response)


def test_stale_if_none_match_gets_200_even_with_fresh_date(app: Flask) -> None:
    client = app.test_client()
    modified = client.get("/app.js").headers["Last-Modified"]

    stale = client.get("/app.js", headers={"If-None-Match": '"stale"'})
    both = client.get(
        "/app.js", headers={"If-None-Match": '"stale"', "If-Modified-Since": modified}
    )
    date_only = client.get("/app.js", headers={"If-Modified-Since": modified})

    assert stale.status_code == 200
    assert both.status_code == 200 and both.data == PLAIN_JS
    assert date_only.status_code == 304


def test_304_of_a_file_with_siblings_carries_vary(app: Flask) -> None:
    client = app.test_client()
    etag = client.get("/app.js").headers["ETag"]

    response = client.get("/app.js", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.headers["Vary"] == "Accept-Encoding"


def test_range_requests(app: Flask) -> None:
    client = app.test_client()
    size = len(PLAIN_JS)
    etag = client.get("/app.js").headers["ETag"]

    part = client.get("/app.js", headers={"Range": "bytes=0-9"})
    beyond = client.get("/app.js", headers={"Range": f"bytes={size}-"})
    stale = client.get("/app.js", headers={"Range": "bytes=0-9", "If-Range": '"x"'})
    current = client.get("/app.js", headers={"Range": "bytes=0-9", "If-Range": etag})

    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 0-9/{size}"
    assert part.data == PLAIN_JS[:10]
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    assert beyond.headers["Content-Type"] == "application/problem+json"
    assert_stamped(beyond)
    assert stale.status_code == 200 and stale.data == PLAIN_JS
    assert current.status_code == 206 and current.data == PLAIN_JS[:10]


def test_several_ranges_get_the_whole_file(app: Flask) -> None:
    response = app.test_client().get("/app.js", headers={"Range": "bytes=0-1,4-5"})

    assert response.status_code == 200
    assert response.data == PLAIN_JS


def test_head_answers_like_get_without_body(app: Flask) -> None:
    client = app.test_client()

    for path in ["/", "/app.js", "/app.3f9a2c1b.js", "/missing.png", "/docs"]:
        get, head = client.get(path), client.head(path)

        assert head.status_code == get.status_code
        assert head.data == b""
        assert sorted(head.headers.items()) == sorted(get.headers.items())


@pytest.mark.parametrize(
    ("accept_encoding", "body", "coding"),
    [
        ("gzip, br", BROTLI_JS, "br"),
        ("identity", PLAIN_JS, None),
        ("br;q=0.5, gzip", GZIP_JS, "gzip"),
        (None, PLAIN_JS, None),
    ],
)
def test_precompressed_siblings(
    app: Flask, accept_encoding: str | None, body: bytes, coding: str | None
) -> None:
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}

    response = app.test_client().get("/app.js", headers=headers)

    assert response.data == body
    assert response.headers.get("Content-Encoding") == coding
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(body))


def test_each_variant_has_its_own_etag(app: Flask) -> None:
    client = app.test_client()

    tags = {
        client.get("/app.js", headers={"Accept-Encoding": value}).headers["ETag"]
        for value in ["br", "gzip", "identity"]
    }

    assert len(tags) == 3


def test_refused_gzip_gives_the_plain_file(app: Flask) -> None:
    response = app.test_client().get(
        "/only-gz.css", headers={"Accept-Encoding": "gzip;q=0"}
    )

    assert response.data == b"body { color: red }\n"
    assert "Content-Encoding" not in response.headers


def test_siblings_are_not_urls_of_their_own(app: Flask) -> None:
    response = app.test_client().get("/app.js.br")

    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"


def test_spa_fallback_for_navigations_only(app: Flask) -> None:
    client = app.test_client()

    page = client.get("/settings/users", headers=NAVIGATION)
    fetched = client.get("/settings/users", headers={"Sec-Fetch-Mode": "navigate"})
    script = client.get("/settings/users", headers={"Accept": "*/*"})
    chunk = client.get("/app.1a2b3c4d.js", headers=NAVIGATION)
    image = client.get("/missing.png")

    assert page.status_code == 200 and page.data == SHELL
    assert page.headers["Cache-Control"] == "no-cache"
    assert fetched.status_code == 200 and fetched.data == SHELL
    for missing in (script, chunk, image):
        assert missing.status_code == 404
        assert missing.headers["Cache-Control"] == "no-store"
        assert missing.headers["Content-Type"] == "application/problem+json"
        assert missing.json is not None and missing.json["status"] == 404
        assert_stamped(missing)


def test_spa_fallback_off(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_SPA_FALLBACK=False)

    response = app.test_client().get("/settings/users", headers=NAVIGATION)

    assert response.status_code == 404


def test_app_routes_win(app: Flask) -> None:
    response = app.test_client().get("/open", headers=NAVIGATION)

    assert response.data == b"open"
    assert "X-Heady-Served-By" not in response.headers


def test_api_prefix_is_never_answered_from_the_folder(app: Flask) -> None:
    client = app.test_client()
    key = {"x-heady-api-key": API_KEY, **NAVIGATION}

    anonymous = client.get("/api/secret.json")
    keyed = client.get("/api/secret.json", headers=key)
    navigation = client.get("/api/anything", headers=key)
    route = client.get("/api/echo", headers=key)

    assert anonymous.status_code == 401
    for response in (keyed, navigation):
        assert response.status_code == 404
        assert b"public folder" not in response.data
        assert response.data != SHELL
        assert "X-Content-Type-Options" not in response.headers
    assert route.json == {"path": "/api/echo"}


def test_a_post_to_an_asset_is_not_allowed(app: Flask) -> None:
    response = app.test_client().post("/app.js")

    assert response.status_code == 405


def test_url_for_builds_asset_urls(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_STATIC_URL_PREFIX="/admin")

    with app.test_request_context():
        assert url_for("heady_edge_static.file", filename="app.js") == "/admin/app.js"
        assert url_for("heady_edge_static.index") == "/admin/"


def test_no_public_folder_adds_no_rules(make_app: AppFactory) -> None:
    app = make_app()

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not {name for name in endpoints if name.startswith("heady_edge_static.")}
    assert app.test_client().get("/").status_code == 404


def test_static_prefix_under_the_api_prefix_fails_startup(
    make_app: AppFactory, public: str
) -> None:
    with pytest.raises(ConfigError, match="HEADY_STATIC_URL_PREFIX"):
        make_app(HEADY_PUBLIC_DIR=public, HEADY_STATIC_URL_PREFIX="/api/ui")


def test_blueprint_registered_by_the_app(public: str, tmp_path: Path) -> None:
    app = Flask("own_registration", root_path=str(tmp_path))
    app.config.update(HEADY_API_KEY=API_KEY, HEADY_PUBLIC_DIR=public)
    edge = HeadyEdge(app, register_blueprints=False)

    assert "heady_edge_static.file" not in app.view_functions
    app.register_blueprint(edge.static_blueprint)

    assert app.test_client().get("/app.js").data == PLAIN_JS


def test_large_file_is_streamed_whole(make_app: AppFactory, tmp_path: Path) -> None:
    folder = tmp_path / "large"
    folder.mkdir()
    content = os.urandom(1024 * 1024) * 20
    (folder / "movie.bin").write_bytes(content)
    app = make_app(HEADY_PUBLIC_DIR=str(folder))

    client = app.test_client()

    # Closed as a WSGI server closes them: the file stays open while streamed.
    with client.get("/movie.bin") as response:
        assert response.headers["Content-Length"] == str(len(content))
        digest = hashlib.sha256(response.get_data()).digest()
        assert digest == hashlib.sha256(content).digest()

    with client.get("/movie.bin", headers={"Range": "bytes=-100"}) as tail:
        assert tail.status_code == 206 and tail.get_data() == content[-100:]


def test_autoreload_serves_the_new_version(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_STATIC_AUTORELOAD=True)
    client = app.test_client()
    before = client.get("/app.3f9a2c1b.js").headers["ETag"]

    path = os.path.join(public, "app.3f9a2c1b.js")
    with open(path, "wb") as changed:
        changed.write(b"console.log('changed');\n")
    os.utime(path, (1_900_000_000, 1_900_000_000))
    with open(os.path.join(public, "added.js"), "wb") as added:
        added.write(b"added")

    after = client.get("/app.3f9a2c1b.js")
    assert after.data == b"console.log('changed');\n"
    assert after.headers["ETag"] != before
    assert client.get("/added.js").data == b"added"


def test_without_autoreload_the_startup_index_holds(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_STATIC_AUTORELOAD=False)
    client = app.test_client()
    before = client.get("/app.3f9a2c1b.js")

    path = os.path.join(public, "app.3f9a2c1b.js")
    with open(path, "wb") as changed:
        changed.write(b"console.log('changed');\n")
    os.utime(path, (1_900_000_000, 1_900_000_000))

    after = client.get("/app.3f9a2c1b.js")
    assert after.headers["ETag"] == before.headers["ETag"]
    assert after.data == before.data
    assert client.get("/added.js").status_code == 404


def test_debug_mode_turns_autoreload_on(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, DEBUG=True)

    with open(os.path.join(public, "late.js"), "wb") as late:
        late.write(b"late")

    assert app.test_client().get("/late.js").data == b"late"
