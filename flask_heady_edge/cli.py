"""The ``flask heady-edge`` commands: keep content-hashed asset names true."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import click
from flask import Flask, current_app, has_app_context
from flask.cli import AppGroup, ScriptInfo

from .state import edge_state

#: Hex digits of SHA-256 a fresh name carries (more only when these are all
#: digits, see :func:`content_hash`).
HASH_DIGITS = 10

#: What an author writes in ``index.html`` for a file that has no hash yet.
HASH_MARKER = "[hash]"

# A name part of 8 or more hex digits set off by ".", "-" or "_": the rule of
# PROTOCOL.md 4.3, minus the letter, which content_hash() checks.
_HASH_PART = re.compile(r"(?:^|(?<=[.\-_]))[0-9A-Fa-f]{8,}(?=[.\-_]|$)")
_MARKER_PART = re.compile(r"[.\-_]" + re.escape(HASH_MARKER) + r"(?=[.\-_]|$)")

# src="..." and href="..." attributes, either quote; unquoted values are rare
# in hand-written HTML and are left alone.
_URL_ATTRIBUTE = re.compile(
    r"""(?P<lead>\b(?:src|href)\s*=\s*)(?P<quote>["'])(?P<url>[^"'<>]*)(?P=quote)""",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def content_hash(data: bytes) -> str:
    """The hash part of a name for ``data``: SHA-256, first 10 hex digits.

    The static server only takes a part for a hash when one of its digits is
    a letter (so that dates are not), so a prefix that happens to be all
    digits (about 1 in 110) is lengthened until a letter appears.
    """
    digest = hashlib.sha256(data).hexdigest()
    length = HASH_DIGITS
    while length < len(digest) and digest[:length].isdigit():
        length += 1

    return digest[:length]


def hash_part(name: str) -> re.Match[str] | None:
    """The last content-hash part of a file name, or ``None``."""
    found = [
        match
        for match in _HASH_PART.finditer(name)
        if not match.group().isdigit()
    ]
    return found[-1] if found else None


def name_matches_content(name: str, data: bytes) -> bool:
    """Whether the hash part of ``name`` is a prefix of the content's SHA-256.

    Any prefix of 8 or more digits counts, in either case, so names written
    by another tool with the same hash function are kept.
    """
    match = hash_part(name)
    if match is None:
        return False

    return hashlib.sha256(data).hexdigest().startswith(match.group().lower())


@dataclass(frozen=True)
class Rename:
    """One asset to move to the name its content gives it."""

    old: str
    new: str


@dataclass
class AssetPlan:
    """What :func:`hash_assets` found in (and would change about) a folder."""

    public_dir: Path
    index_text: str
    new_index_text: str
    renames: list[Rename] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rewritten_references: int = 0


def plan_asset_hashes(public_dir: Path | str) -> AssetPlan:
    """Read ``index.html`` and the files it refers to; change nothing.

    A relative ``src`` or ``href`` whose file name has a content-hash part
    is checked against the file's content. One with the marker
    (``app.[hash].js``) names the source file without it (``app.js``), which
    gets its first hash. Absolute paths and URLs with a scheme are skipped:
    where they lead depends on the mount point, not on this folder.
    """
    root = Path(public_dir).resolve()
    try:
        text = (root / "index.html").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise click.ClickException(f"no index.html in {root}") from None

    plan = AssetPlan(public_dir=root, index_text=text, new_index_text=text)
    planned: dict[str, str] = {}

    def rewrite(match: re.Match[str]) -> str:
        url = match.group("url")
        new_url = _plan_reference(root, url, plan, planned)
        if new_url == url:
            return match.group()

        plan.rewritten_references += 1
        return f"{match['lead']}{match['quote']}{new_url}{match['quote']}"

    plan.new_index_text = _URL_ATTRIBUTE.sub(rewrite, text)
    return plan


def _plan_reference(
    root: Path, url: str, plan: AssetPlan, planned: dict[str, str]
) -> str:
    """Check one reference; return it as it should be written."""
    if not url or url.startswith(("/", "#")) or _SCHEME.match(url):
        return url

    path = _url_path(url)
    folder, _, name = path.rpartition("/")
    marker = _MARKER_PART.search(name)
    part = marker or hash_part(name)
    if part is None:
        return url

    # The marker takes its separator with it on disk: app.[hash].js is app.js.
    disk_name = name[: part.start()] + name[part.end() :] if marker else name
    disk_path = root / unquote(f"{folder}/{disk_name}" if folder else disk_name)
    disk_path = disk_path.resolve()
    if not disk_path.is_relative_to(root):
        plan.problems.append(f"{url}: outside the public folder")
        return url

    relative = disk_path.relative_to(root).as_posix()
    if relative in planned:
        return _with_name(url, path, planned[relative])

    try:
        data = disk_path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        plan.problems.append(f"{url}: no such file {relative}")
        return url

    if marker is None and name_matches_content(name, data):
        plan.current.append(relative)
        planned[relative] = name
        return url

    start = part.start() + 1 if marker else part.start()
    new_name = name[:start] + content_hash(data) + name[part.end() :]

    new_relative = f"{relative.rpartition('/')[0]}/{new_name}".lstrip("/")
    plan.renames.append(Rename(old=relative, new=new_relative))
    planned[relative] = new_name
    return _with_name(url, path, new_name)


def _url_path(url: str) -> str:
    """``url`` without its ``?query`` or ``#fragment``."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    return url[:cut]


def _with_name(url: str, path: str, new_name: str) -> str:
    folder, slash, _ = path.rpartition("/")
    return f"{folder}{slash}{new_name}{url[len(path):]}"


def apply_asset_plan(plan: AssetPlan) -> None:
    """Carry out a plan so that ``index.html`` never names a missing file.

    The new names are written first, then ``index.html`` (atomically), and
    only then are the stale names removed: a request served in between gets
    either the old page with the old files or the new page with new ones.
    """
    root = plan.public_dir
    for rename in plan.renames:
        source, target = root / rename.old, root / rename.new
        if not target.exists():
            _write_atomically(target, source.read_bytes())

    if plan.new_index_text != plan.index_text:
        _write_atomically(
            root / "index.html", plan.new_index_text.encode("utf-8")
        )

    for rename in plan.renames:
        (root / rename.old).unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".hash-assets-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)

        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise


def hash_assets(public_dir: Path | str, check: bool = False) -> AssetPlan:
    """Plan, and unless ``check``, apply the renames; return the plan."""
    plan = plan_asset_hashes(public_dir)
    if not check and not plan.problems:
        apply_asset_plan(plan)

    return plan


cli = AppGroup(
    "heady-edge", help="Tools for the Heady edge gateway of this app."
)


@cli.command("hash-assets", with_appcontext=False)
@click.option(
    "--public-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The asset folder; by default the app's HEADY_PUBLIC_DIR.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; exit with status 1 if a name does not match its content.",
)
def hash_assets_command(public_dir: Path | None, check: bool) -> None:
    """Rename assets to match their content, and update index.html.

    A file referred to as NAME.<hex>.EXT (8 or more hex digits, at least one
    a letter; "-" or "_" also work as separators) whose content changed is
    renamed to NAME.<first 10 hex digits of its SHA-256>.EXT, index.html is
    rewritten to match, and the stale file is removed. A new file is
    referred to with the marker, as NAME.[hash].EXT, and kept on disk as
    NAME.EXT until its first run. Only relative src and href attributes of
    index.html are read: references inside CSS or JavaScript are not.
    """
    folder = public_dir or _app_public_dir()
    plan = hash_assets(folder, check=check)

    for problem in plan.problems:
        click.echo(f"error: {problem}", err=True)

    for name in plan.current:
        click.echo(f"up to date: {name}")

    verb = "stale" if check or plan.problems else "renamed"
    for rename in plan.renames:
        click.echo(f"{verb}: {rename.old} -> {rename.new}")

    if plan.problems:
        raise click.ClickException("index.html has references that cannot be hashed")

    if check and plan.renames:
        raise click.ClickException(
            f"{len(plan.renames)} asset name(s) do not match the content;"
            " run 'flask heady-edge hash-assets'"
        )

    if plan.rewritten_references:
        click.echo(f"index.html: {plan.rewritten_references} reference(s) rewritten")


def _app_public_dir() -> Path:
    app: Flask
    if has_app_context():
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()

    try:
        settings = edge_state(app).settings
    except RuntimeError as error:
        raise click.UsageError(f"{error} Or pass --public-dir.") from error

    if settings.public_dir is None:
        raise click.UsageError(
            "The app has no public folder (HEADY_PUBLIC_DIR); pass --public-dir."
        )

    return Path(settings.public_dir)
