"""The committed Admin IDE in ``public/``: true hashed names, nothing remote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flask_heady_edge.cli import hash_part, name_matches_content, plan_asset_hashes

PUBLIC = Path(__file__).resolve().parent.parent / "public"

HASHED_FILES = sorted(
    path for path in PUBLIC.rglob("*") if path.is_file() and hash_part(path.name)
)


def test_public_folder_has_hashed_script_and_stylesheet() -> None:
    suffixes = sorted(path.suffix for path in HASHED_FILES)

    assert suffixes == [".css", ".js"]


@pytest.mark.parametrize(
    "path", HASHED_FILES, ids=[path.name for path in HASHED_FILES]
)
def test_hashed_name_matches_content(path: Path) -> None:
    assert name_matches_content(path.name, path.read_bytes()), (
        f"{path.name} does not match its content:"
        " run 'flask heady-edge hash-assets --public-dir public'"
    )


def test_index_refers_to_existing_files_with_true_names() -> None:
    plan = plan_asset_hashes(PUBLIC)

    assert plan.problems == []
    assert plan.renames == []
    assert sorted(plan.current) == sorted(path.name for path in HASHED_FILES)


def test_no_public_file_refers_to_another_host() -> None:
    remote = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}""")
    for path in PUBLIC.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert remote.findall(text) == [], path.name


def test_index_names_the_api_prefix_in_a_meta_element() -> None:
    index = (PUBLIC / "index.html").read_text(encoding="utf-8")

    assert '<meta name="heady-api-prefix" content="/api">' in index
