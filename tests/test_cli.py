"""The ``flask heady-edge hash-assets`` command, on copies of an asset folder."""

from __future__ import annotations

import hashlib
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner

from flask_heady_edge.cli import cli, content_hash, hash_assets, hash_part

from .conftest import AppFactory

PUBLIC = Path(__file__).resolve().parent.parent / "public"

INDEX = """<!doctype html>
<link rel="stylesheet" href="{css}">
<link rel="modulepreload" href="{js}">
<script type="module" src="{js}"></script>
"""


def hashed(stem: str, data: bytes, suffix: str) -> str:
    return f"{stem}.{content_hash(data)}{suffix}"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    """A public folder whose two assets carry the right hashes."""
    folder = tmp_path / "public"
    folder.mkdir()
    css, js = b"body { color: black; }\n", b"console.log('one');\n"
    (folder / hashed("style", css, ".css")).write_bytes(css)
    (folder / hashed("app", js, ".js")).write_bytes(js)
    (folder / "index.html").write_text(
        INDEX.format(css=hashed("style", css, ".css"), js=hashed("app", js, ".js"))
    )
    return folder


def run(folder: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["hash-assets", "--public-dir", str(folder), *args]
    )
    return result.exit_code, result.stdout, result.stderr


def test_content_hash_is_first_ten_hex_digits_of_sha256() -> None:
    assert content_hash(b"") == "e3b0c44298"


def test_content_hash_is_lengthened_until_it_holds_a_letter() -> None:
    # SHA-256 of b"asset 1" starts 32792505335a: eleven digits, then a letter.
    assert content_hash(b"asset 1") == "32792505335a"


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("app.3f9a2c1b.js", "3f9a2c1b"),
        ("app-3F9A2C1B.css", "3F9A2C1B"),
        ("chunk_0a1b2c3d4e.mjs", "0a1b2c3d4e"),
        ("backup.20240101.js", None),
        ("app.3f9a2c1.js", None),
        ("app.js", None),
    ],
)
def test_hash_part_follows_the_immutable_name_rule(
    name: str, part: str | None
) -> None:
    match = hash_part(name)
    assert (match.group() if match else None) == part


def test_folder_with_true_names_is_left_alone(assets: Path) -> None:
    css, js = next(assets.glob("*.css")).name, next(assets.glob("*.js")).name
    before = snapshot(assets)

    code, out, _ = run(assets)

    assert code == 0
    assert out.splitlines() == [f"up to date: {css}", f"up to date: {js}"]
    assert snapshot(assets) == before


def test_edited_asset_is_renamed_and_index_rewritten(assets: Path) -> None:
    old = next(assets.glob("app.*.js"))
    data = b"console.log('two');\n"
    old.write_bytes(data)
    new_name = hashed("app", data, ".js")

    code, out, _ = run(assets)

    assert code == 0
    assert f"renamed: {old.name} -> {new_name}" in out.splitlines()
    assert "index.html: 2 reference(s) rewritten" in out.splitlines()
    assert not old.exists()
    assert (assets / new_name).read_bytes() == data
    index = (assets / "index.html").read_text()
    assert index.count(f'"{new_name}"') == 2
    assert old.name not in index


def test_check_lists_stale_names_and_changes_nothing(assets: Path) -> None:
    old = next(assets.glob("style.*.css"))
    old.write_bytes(b"body { color: navy; }\n")
    before = snapshot(assets)

    code, out, err = run(assets, "--check")

    new_name = hashed("style", b"body { color: navy; }\n", ".css")
    assert code == 1
    assert f"stale: {old.name} -> {new_name}" in out.splitlines()
    assert "1 asset name(s) do not match the content" in err
    assert snapshot(assets) == before


def test_check_passes_on_a_copy_of_the_committed_public_folder(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "public"
    shutil.copytree(PUBLIC, copy)

    code, _, err = run(copy, "--check")

    assert (code, err) == (0, "")


def test_marker_names_a_source_file_that_gets_its_first_hash(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    data = b"export const answer = 42;\n"
    (tmp_path / "js" / "widgets.js").write_bytes(data)
    (tmp_path / "index.html").write_text(
        '<script type="module" src="js/widgets.[hash].js?v=1#top"></script>\n'
    )

    code, out, _ = run(tmp_path)

    new_name = f"js/{hashed('widgets', data, '.js')}"
    assert code == 0
    assert out.splitlines()[0] == f"renamed: js/widgets.js -> {new_name}"
    assert (tmp_path / "index.html").read_text() == (
        f'<script type="module" src="{new_name}?v=1#top"></script>\n'
    )
    assert sorted(snapshot(tmp_path)) == ["index.html", new_name]


def test_name_with_any_sha256_prefix_of_eight_digits_is_kept(tmp_path: Path) -> None:
    data = b"body {}\n"
    name = f"site-{hashlib.sha256(data).hexdigest()[:8].upper()}.css"
    (tmp_path / name).write_bytes(data)
    (tmp_path / "index.html").write_text(f'<link rel=stylesheet href="{name}">')

    code, out, _ = run(tmp_path, "--check")

    assert (code, out) == (0, f"up to date: {name}\n")


def test_missing_file_fails_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<script src="app.0123abcdef.js"></script>')
    before = snapshot(tmp_path)

    code, _, err = run(tmp_path)

    assert code == 1
    assert "error: app.0123abcdef.js: no such file app.0123abcdef.js" in err
    assert snapshot(tmp_path) == before


def test_reference_outside_the_folder_is_refused(tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (tmp_path / "secret.js").write_bytes(b"secret")
    (public / "index.html").write_text('<script src="../secret.[hash].js"></script>')

    code, _, err = run(public)

    assert code == 1
    assert "error: ../secret.[hash].js: outside the public folder" in err
    assert (tmp_path / "secret.js").exists()


def test_absolute_paths_and_other_hosts_are_not_touched(tmp_path: Path) -> None:
    index = (
        '<script src="https://cdn.invalid/app.0123abcdef.js"></script>\n'
        '<script src="//cdn.invalid/app.0123abcdef.js"></script>\n'
        '<link rel=stylesheet href="/admin/style.0123abcdef.css">\n'
        '<a href="#app.0123abcdef">top</a>\n'
    )
    (tmp_path / "index.html").write_text(index)

    code, out, _ = run(tmp_path)

    assert (code, out) == (0, "")
    assert (tmp_path / "index.html").read_text() == index


def test_hash_assets_function_returns_the_plan(assets: Path) -> None:
    old = next(assets.glob("app.*.js"))
    old.write_bytes(b"changed\n")

    plan = hash_assets(assets, check=True)

    assert [(r.old, r.new) for r in plan.renames] == [
        (old.name, hashed("app", b"changed\n", ".js"))
    ]
    assert plan.rewritten_references == 2
    assert old.exists()


def test_command_uses_the_public_folder_of_the_app(
    make_app: AppFactory, tmp_path: Path
) -> None:
    shutil.copytree(PUBLIC, tmp_path / "public")
    script = next((tmp_path / "public").glob("app.*.js"))
    script.write_bytes(script.read_bytes() + b"\n")
    app = make_app()

    result = app.test_cli_runner().invoke(cli, ["hash-assets"])

    assert result.exit_code == 0
    assert not script.exists()
    assert result.stdout.splitlines()[-1] == "index.html: 1 reference(s) rewritten"


def test_app_without_public_folder_asks_for_the_option(
    make_app: AppFactory,
) -> None:
    app = make_app()

    result = app.test_cli_runner().invoke(cli, ["hash-assets"])

    assert result.exit_code == 2
    assert "pass --public-dir" in result.stderr


def test_group_is_registered_as_a_flask_command() -> None:
    (entry,) = entry_points(group="flask.commands", name="heady-edge")

    assert entry.load() is cli
    assert "hash-assets" in cli.commands
