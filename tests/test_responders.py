"""HTTP decisions for one file, without an app: RFC 9110 sections 12 to 14."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from werkzeug.http import http_date

from flask_heady_edge.assets import Answer, Asset, AssetIndex
from flask_heady_edge.responders import (
    RangeNotSatisfiable,
    choose_coding,
    etag_in,
    if_range_holds,
    is_navigation,
    parse_byte_range,
    respond,
)

CONTENT = b"0123456789abcdefghij" * 5


@pytest.fixture
def asset(tmp_path: Path) -> Asset:
    (tmp_path / "app.js").write_bytes(CONTENT)
    found = AssetIndex(str(tmp_path)).find("app.js")
    assert found is not None
    return found


@pytest.fixture
def coded(tmp_path: Path) -> Asset:
    for name, content in {
        "app.js": CONTENT,
        "app.js.br": b"brotli",
        "app.js.gz": b"gzip",
        "gz-only.js": CONTENT,
        "gz-only.js.gz": b"gzip",
    }.items():
        (tmp_path / name).write_bytes(content)

    found = AssetIndex(str(tmp_path)).find("app.js")
    assert found is not None
    return found


def get(asset: Asset, method: str = "GET", **headers: str) -> Answer:
    environ: dict[str, Any] = {"REQUEST_METHOD": method}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return respond(asset, environ)


def header(answer: Answer, name: str) -> str | None:
    values = [value for key, value in answer.headers if key.lower() == name.lower()]
    assert len(values) <= 1
    return values[0] if values else None


def body(answer: Answer) -> bytes:
    return b"".join(answer.body)


def test_plain_get_is_200_with_every_header(asset: Asset) -> None:
    answer = get(asset)

    assert answer.status == "200 OK"
    assert body(answer) == CONTENT
    assert header(answer, "Content-Length") == str(len(CONTENT))
    assert header(answer, "ETag") == asset.plain.etag
    assert header(answer, "Last-Modified") == http_date(asset.plain.last_modified)
    assert header(answer, "Accept-Ranges") == "bytes"
    assert header(answer, "Cache-Control") == "no-cache"
    assert header(answer, "X-Content-Type-Options") == "nosniff"
    assert header(answer, "X-Heady-Served-By") == "origin"
    assert header(answer, "Vary") is None


def test_head_has_the_headers_of_get_and_no_body(asset: Asset) -> None:
    head, full = get(asset, "HEAD"), get(asset)

    assert head.status == full.status
    assert head.headers == full.headers
    assert body(head) == b""


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", '"stale", {etag}', "W/{etag}", "*", ' "a" ,W/{etag} ,"b"'],
)
def test_if_none_match_gives_304(asset: Asset, if_none_match: str) -> None:
    answer = get(asset, if_none_match=if_none_match.format(etag=asset.plain.etag))

    assert answer.status == "304 Not Modified"
    assert body(answer) == b""
    assert header(answer, "ETag") == asset.plain.etag
    assert header(answer, "Cache-Control") == "no-cache"
    assert header(answer, "Content-Length") is None
    assert header(answer, "Content-Type") is None


@pytest.mark.parametrize(
    "if_none_match", ['"stale"', 'W/"stale", "other"', "{bare}", "**"]
)
def test_if_none_match_without_the_tag_gives_200(
    asset: Asset, if_none_match: str
) -> None:
    bare = asset.plain.etag.strip('"')

    answer = get(asset, if_none_match=if_none_match.format(bare=bare))

    assert answer.status == "200 OK"


def test_if_none_match_wins_over_if_modified_since(asset: Asset) -> None:
    fresh = http_date(asset.plain.last_modified + 60)

    answer = get(asset, if_none_match='"stale"', if_modified_since=fresh)

    assert answer.status == "200 OK"


def test_if_modified_since_alone(asset: Asset) -> None:
    modified = asset.plain.last_modified

    assert get(asset, if_modified_since=http_date(modified)).status.startswith("304")
    assert get(asset, if_modified_since=http_date(modified - 1)).status.startswith(
        "200"
    )
    assert get(asset, if_modified_since="not a date").status.startswith("200")


def test_if_match_and_if_unmodified_since_give_412(asset: Asset) -> None:
    modified = asset.plain.last_modified

    stale = get(asset, if_match='"stale"')
    weak = get(asset, if_match="W/" + asset.plain.etag)
    early = get(asset, if_unmodified_since=http_date(modified - 1))

    for answer in (stale, weak, early):
        assert answer.status == "412 Precondition Failed"
        assert header(answer, "Content-Type") == "application/problem+json"
        assert header(answer, "Cache-Control") == "no-store"

    assert get(asset, if_match=asset.plain.etag).status == "200 OK"
    assert get(asset, if_match="*").status == "200 OK"


def test_single_range_gives_206(asset: Asset) -> None:
    answer = get(asset, range="bytes=0-9")

    assert answer.status == "206 Partial Content"
    assert body(answer) == CONTENT[:10]
    assert header(answer, "Content-Range") == f"bytes 0-9/{len(CONTENT)}"
    assert header(answer, "Content-Length") == "10"
    assert header(answer, "ETag") == asset.plain.etag


def test_unsatisfiable_range_gives_416(asset: Asset) -> None:
    answer = get(asset, range=f"bytes={len(CONTENT)}-")

    assert answer.status == "416 Range Not Satisfiable"
    assert header(answer, "Content-Range") == f"bytes */{len(CONTENT)}"
    assert header(answer, "Content-Type") == "application/problem+json"


def test_several_ranges_get_the_whole_file(asset: Asset) -> None:
    answer = get(asset, range="bytes=0-1,5-6")

    assert answer.status == "200 OK"
    assert body(answer) == CONTENT


def test_head_ignores_range(asset: Asset) -> None:
    answer = get(asset, "HEAD", range="bytes=0-9")

    assert answer.status == "200 OK"
    assert header(answer, "Content-Length") == str(len(CONTENT))


def test_if_range_with_a_stale_tag_gives_the_whole_file(asset: Asset) -> None:
    answer = get(asset, range="bytes=0-9", if_range='"stale"')

    assert answer.status == "200 OK"
    assert body(answer) == CONTENT


def test_if_range_with_the_current_tag_gives_the_range(asset: Asset) -> None:
    answer = get(asset, range="bytes=0-9", if_range=asset.plain.etag)

    assert answer.status == "206 Partial Content"


def test_if_range_compares_strongly_and_dates_exactly(asset: Asset) -> None:
    plain = asset.plain

    assert not if_range_holds("W/" + plain.etag, plain)
    assert if_range_holds(http_date(plain.last_modified), plain)
    assert not if_range_holds(http_date(plain.last_modified + 1), plain)
    assert not if_range_holds("garbage", plain)
    assert if_range_holds(None, plain)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=95-500", (95, 99)),
        ("BYTES = 0-0", (0, 0)),
        ("bytes=0-9,", (0, 9)),
        ("bytes=5-4", None),
        ("bytes=0-1,3-4", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
        ("bytes=٠-٩", None),
        ("items=0-9", None),
        ("bytes 0-9", None),
    ],
)
def test_parse_byte_range(value: str, expected: tuple[int, int] | None) -> None:
    assert parse_byte_range(value, 100) == expected


@pytest.mark.parametrize(
    ("value", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_unsatisfiable_byte_ranges(value: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_byte_range(value, size)


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        ("gzip, br", "br"),
        ("br, gzip", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("BR;Q=1, GZIP;q=0.9", "br"),
        ("identity", None),
        ("", None),
        ("*", "br"),
        ("*;q=0.5, br;q=0", "gzip"),
        ("gzip;q=0.2, identity;q=0.5", None),
        ("gzip;q=0.2, identity;q=0", "gzip"),
        ("identity;q=0", None),
        ("x-gzip", "gzip"),
        ("br;q=2, gzip;q=0.1", "gzip"),
        ("br;q=abc", None),
        ("compress, deflate", None),
    ],
)
def test_choose_coding(accept_encoding: str, expected: str | None) -> None:
    assert choose_coding(accept_encoding, ("br", "gzip")) == expected


def test_precompressed_sibling_is_sent_with_its_own_etag(coded: Asset) -> None:
    brotli = get(coded, accept_encoding="gzip, br")
    plain = get(coded, accept_encoding="identity")

    assert body(brotli) == b"brotli"
    assert header(brotli, "Content-Encoding") == "br"
    assert header(brotli, "Vary") == "Accept-Encoding"
    assert header(brotli, "Content-Type") == "text/javascript; charset=utf-8"
    assert body(plain) == CONTENT
    assert header(plain, "Content-Encoding") is None
    assert header(plain, "Vary") == "Accept-Encoding"
    assert header(brotli, "ETag") != header(plain, "ETag")


def test_no_accept_encoding_gets_the_plain_file(coded: Asset) -> None:
    answer = get(coded)

    assert body(answer) == CONTENT
    assert header(answer, "Vary") == "Accept-Encoding"


def test_304_of_a_variant_carries_vary_and_the_variant_tag(coded: Asset) -> None:
    brotli_tag = coded.variants[0][1].etag

    answer = get(coded, accept_encoding="br", if_none_match=brotli_tag)
    other = get(coded, accept_encoding="gzip", if_none_match=brotli_tag)

    assert answer.status == "304 Not Modified"
    assert header(answer, "Vary") == "Accept-Encoding"
    assert header(answer, "ETag") == brotli_tag
    assert other.status == "200 OK"


def test_etag_in_needs_quoted_tags() -> None:
    assert etag_in('W/"a", "b"', '"a"', weak=True)
    assert not etag_in('W/"a"', '"a"', weak=False)
    assert not etag_in("a", '"a"', weak=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"}, True),
        ({"HTTP_ACCEPT": "TEXT/HTML"}, True),
        ({"HTTP_SEC_FETCH_MODE": "navigate"}, True),
        ({"HTTP_ACCEPT": "*/*"}, False),
        ({"HTTP_ACCEPT": "text/html;q=0"}, False),
        ({"HTTP_ACCEPT": "application/json"}, False),
        ({"HTTP_SEC_FETCH_MODE": "cors", "HTTP_ACCEPT": "*/*"}, False),
        ({}, False),
    ],
)
def test_is_navigation(headers: dict[str, str], expected: bool) -> None:
    assert is_navigation(headers) is expected
