from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from flask_heady_edge.structured_fields import is_structured_list

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, HfAppFactory

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

FIELDS_URL = "/api/hf/hf-inference/models/heady-fake/fields"
OURS_POLICY = '"default";q=50;w=60'
OURS_STATE = '"default";r=49;t=60'

VALID = [
    '"fixed-window";q=1000;w=3600',
    "fixed;r=0;t=42",
    '"a";r=0;t=42, "b";r=1;t=2',
    '"a";r=0,"b";r=1',
    '"a";r=0 ,\t"b";r=1',
    '"quoted \\" and \\\\";r=1',
    '"a";pk=:cHJvYmxlbQ==:;r=1',
    '"a";flag;r=-1;d=1.5;s="x";b=?0;tok=abc/def:1',
    '"a"; r=1',
    "*star;r=1",
    '"a"',
]

MALFORMED = [
    '"default";r=..., garbage',
    '"a";r=1,',
    ',"a";r=1',
    '"a";r=1, , "b";r=2',
    '"a";R=1',
    '"a" ;r=1',
    '"a" "b"',
    '"a";r=1;;t=2',
    '"unterminated;r=1',
    '"bad \\n escape"',
    '"a";r=',
    '"a";r=1.2345',
    '"a";r=1234567890123456',
    '1;r=2',
    '("inner" "list");r=1',
    '"a";r=:not base64!:',
    "-token;r=1",
    '"a";r=1 junk',
    "",
]


@pytest.mark.parametrize("value", VALID)
def test_structured_lists_of_tokens_and_strings_parse(value: str) -> None:
    assert is_structured_list(value)


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_lists_do_not_parse(value: str) -> None:
    assert not is_structured_list(value)


def post_with_fields(
    app_factory: HfAppFactory, fields: list[list[str]]
) -> TestResponse:
    client = app_factory(HEADY_RATE_LIMIT="50 per minute").test_client()
    return client.post(
        FIELDS_URL, json={"parameters": {"fields": fields}}, headers=KEY_HEADER
    )


def test_well_formed_upstream_quota_is_appended_to_ours(
    hf_app: HfAppFactory,
) -> None:
    response = post_with_fields(
        hf_app,
        [
            ["RateLimit-Policy", '"hf";q=1000;w=3600'],
            ["RateLimit", '"hf";r=999;t=3599'],
        ],
    )

    assert response.headers["RateLimit-Policy"] == f'{OURS_POLICY}, "hf";q=1000;w=3600'
    assert response.headers["RateLimit"] == f'{OURS_STATE}, "hf";r=999;t=3599'


@pytest.mark.parametrize("value", [value for value in MALFORMED if value])
def test_malformed_upstream_quota_is_dropped_whole(
    hf_app: HfAppFactory, value: str
) -> None:
    response = post_with_fields(
        hf_app, [["RateLimit", value], ["RateLimit-Policy", value]]
    )

    assert response.status_code == 200
    assert response.headers.getlist("RateLimit") == [OURS_STATE]
    assert response.headers.getlist("RateLimit-Policy") == [OURS_POLICY]


def test_quota_field_lines_are_joined_and_checked_as_one_list(
    hf_app: HfAppFactory,
) -> None:
    joined = post_with_fields(
        hf_app, [["RateLimit", '"a";r=1;t=2'], ["RateLimit", '"b";r=3;t=4']]
    )
    one_bad = post_with_fields(
        hf_app, [["RateLimit", '"a";r=1;t=2'], ["RateLimit", '"b";r=?']]
    )

    assert joined.headers["RateLimit"] == f'{OURS_STATE}, "a";r=1;t=2, "b";r=3;t=4'
    assert one_bad.headers["RateLimit"] == OURS_STATE


def test_a_malformed_field_leaves_the_other_one_relayed(
    hf_app: HfAppFactory,
) -> None:
    response = post_with_fields(
        hf_app,
        [["RateLimit-Policy", '"hf";q=1000;w=3600'], ["RateLimit", "garbage="]],
    )

    assert response.headers["RateLimit-Policy"] == f'{OURS_POLICY}, "hf";q=1000;w=3600'
    assert response.headers["RateLimit"] == OURS_STATE
