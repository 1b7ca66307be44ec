"""The startup index of ``HEADY_PUBLIC_DIR``: every servable file and its metadata."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from werkzeug.http import http_date

from .asset_files import FileIdentity, IndexedFile, IndexedFolder
from .asset_names import content_type_for, is_content_hashed, is_safe_key

logger = logging.getLogger(__name__)

#: Files up to this size are kept in memory, so answering them opens nothing.
INLINE_LIMIT = 64 * 1024

#: The most memory all inlined files of one index may take together.
INLINE_BUDGET = 32 * 1024 * 1024

#: Precompressed siblings, in order of preference on a tie: coding, suffix.
SIBLINGS = (("br", ".br"), ("gzip", ".gz"))

OK = "200 OK"
NOT_MODIFIED = "304 Not Modified"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def strong_etag(digest: bytes) -> str:
    """A strong entity tag from a SHA-256 digest: the same on every host."""
    return '"' + base64.urlsafe_b64encode(digest[:18]).decode("ascii") + '"'


class Answer(NamedTuple):
    """A complete WSGI answer: status line, headers and body.

    Prebuilt answers are shared by every request, so their parts are
    immutable; the WSGI layer hands each server a fresh list of the headers.
    """

    status: str
    headers: Sequence[tuple[str, str]]
    body: Iterable[bytes]


@dataclass(frozen=True, slots=True)
class Representation:
    """One sendable form of a file: the plain bytes or a precompressed sibling."""

    #: Where the bytes are read from when they are not kept in memory.
    source: IndexedFile
    size: int
    etag: str
    last_modified: int
    coding: str | None
    #: The bytes themselves when small enough to keep in memory.
    content: bytes | None
    #: Every header of a ``200`` answer, built once.
    headers: tuple[tuple[str, str], ...]
    #: The answers that are the same every time: ``304`` (with the headers
    #: of RFC 9110 section 15.4.5), ``HEAD``, and ``200`` when in memory.
    not_modified: Answer
    head: Answer
    full: Answer | None


@dataclass(frozen=True, slots=True)
class Asset:
    """A servable file of the folder, with its precompressed siblings."""

    key: str
    plain: Representation
    #: Siblings as ``(coding, representation)``, in order of preference.
    variants: tuple[tuple[str, Representation], ...]
    #: The codings of the variants, in the same order.
    codings: tuple[str, ...]
    #: The files whose change makes this entry stale, with what they were.
    watched: tuple[tuple[str, tuple[int, int] | None], ...]


def _signature(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None

    if not stat.S_ISREG(status.st_mode):
        return None

    return status.st_mtime_ns, status.st_size


class AssetIndex:
    """Every servable file of one folder, keyed by its path relative to it.

    Built once, with real paths: a file is in the index only if it is a
    regular file inside the folder after every symlink is resolved, and no
    part of its path is hidden. Serving only what the index holds is what
    keeps requests inside the folder. With ``autoreload`` each lookup checks
    the files again, so edits, new files and deletions show without a
    restart; new files pass the same checks first.
    """

    def __init__(
        self,
        root: str,
        immutable_pattern: re.Pattern[str] | None = None,
        autoreload: bool = False,
    ) -> None:
        self.root = os.path.realpath(root)
        self._inside = os.path.join(self.root, "")
        self.autoreload = autoreload
        self._folder = IndexedFolder(self.root, autoreload)
        self._immutable_pattern = immutable_pattern
        self._inline_left = INLINE_BUDGET
        self._assets: dict[str, Asset] = {}

        started = time.perf_counter()
        for key in self._walk(self.root, "", (self.root,)):
            if self._is_sibling_key(key):
                continue

            asset = self._build(key)
            if asset is not None:
                self._assets[key] = asset

        logger.info(
            "Indexed %d static files of %s in %.0f ms.",
            len(self._assets),
            self.root,
            (time.perf_counter() - started) * 1000,
        )

    def __len__(self) -> int:
        return len(self._assets)

    def __contains__(self, key: str) -> bool:
        return self.find(key) is not None

    def keys(self) -> list[str]:
        return sorted(self._assets)

    def find(self, key: str) -> Asset | None:
        """The asset at ``key``; ``""`` and ``"docs/"`` name folder indexes."""
        if not key or key[-1] == "/":
            key += "index.html"

        asset = self._assets.get(key)
        if not self.autoreload:
            return asset

        return self._refresh(key, asset)

    def _refresh(self, key: str, asset: Asset | None) -> Asset | None:
        if asset is not None and all(
            _signature(path) == seen for path, seen in asset.watched
        ):
            return asset

        # Changed, new or gone: the new entry passes every check of startup.
        if asset is not None:
            self._inline_left += sum(
                len(representation.content or b"")
                for representation in (asset.plain, *(v for _, v in asset.variants))
            )

        fresh = None
        if is_safe_key(key) and not self._is_sibling_key(key):
            fresh = self._build(key)

        if fresh is None:
            self._assets.pop(key, None)
        else:
            logger.debug("Re-indexed static file %s.", key)
            self._assets[key] = fresh

        return fresh

    def _walk(
        self, folder: str, prefix: str, ancestors: tuple[str, ...]
    ) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            logger.warning("Cannot list static folder %s: %s", folder, error)
            return

        for entry in entries:
            key = prefix + entry.name
            if not is_safe_key(key):
                continue

            real = os.path.realpath(entry.path)
            if not self._is_inside(real):
                logger.debug("Skipping %s: it leads out of the folder.", key)
                continue

            if os.path.isdir(real):
                # A symlink back to a folder above would loop forever.
                if real not in ancestors:
                    yield from self._walk(real, key + "/", (*ancestors, real))
            elif _signature(real) is not None:
                yield key

    def _is_inside(self, real: str) -> bool:
        return real.startswith(self._inside) and real != self._inside

    def _resolve(self, key: str) -> str | None:
        """The real path of ``key`` if it is a regular file inside the folder."""
        real = os.path.realpath(os.path.join(self.root, *key.split("/")))
        if self._is_inside(real) and _signature(real) is not None:
            return real

        return None

    def _is_sibling_key(self, key: str) -> bool:
        """``app.js.br`` beside ``app.js`` is a variant of it, not a URL of its own."""
        return any(
            key.endswith(suffix) and self._resolve(key[: -len(suffix)]) is not None
            for _, suffix in SIBLINGS
        )

    def _build(self, key: str) -> Asset | None:
        plain_path = self._resolve(key)
        if plain_path is None:
            return None

        name = key.rpartition("/")[2]
        variant_paths = [
            (coding, self._resolve(key + suffix)) for coding, suffix in SIBLINGS
        ]
        present = [(coding, path) for coding, path in variant_paths if path]
        describe = _Describer(
            content_type_for(name),
            IMMUTABLE
            if is_content_hashed(name, self._immutable_pattern)
            else REVALIDATE,
            vary=bool(present),
        )

        try:
            plain = self._represent(plain_path, None, describe)
            variants = tuple(
                (coding, self._represent(path, coding, describe))
                for coding, path in present
            )
        except OSError as error:
            logger.warning("Cannot read static file %s: %s", key, error)
            return None

        watched_paths = [os.path.join(self.root, *key.split("/"))]
        watched_paths += [watched_paths[0] + suffix for _, suffix in SIBLINGS]
        return Asset(
            key=key,
            plain=plain,
            variants=variants,
            codings=tuple(coding for coding, _ in variants),
            watched=tuple((path, _signature(path)) for path in watched_paths),
        )

    def _represent(
        self, path: str, coding: str | None, describe: _Describer
    ) -> Representation:
        with open(path, "rb") as handle:
            # Taken before reading: a change while the digest is computed
            # makes the file differ from this identity, so it is never sent
            # under a digest of mixed bytes.
            status = os.fstat(handle.fileno())
            content = None
            if status.st_size <= min(INLINE_LIMIT, self._inline_left):
                content = handle.read()
                digest = hashlib.sha256(content).digest()
                self._inline_left -= len(content)
            else:
                digest = hashlib.file_digest(handle, "sha256").digest()

        size = len(content) if content is not None else status.st_size

        # RFC 9110 section 8.8.2.1: never a Last-Modified later than now.
        last_modified = int(min(status.st_mtime, time.time()))
        source = IndexedFile(
            self._folder,
            tuple(os.path.relpath(path, self.root).split(os.sep)),
            FileIdentity.of(status),
        )
        return describe(
            source, size, strong_etag(digest), last_modified, coding, content
        )


@dataclass(frozen=True, slots=True)
class _Describer:
    """Builds the prebuilt headers and answers of a file and its siblings."""

    content_type: str
    cache_control: str
    vary: bool

    def __call__(
        self,
        source: IndexedFile,
        size: int,
        etag: str,
        last_modified: int,
        coding: str | None,
        content: bytes | None,
    ) -> Representation:
        validators = [("ETag", etag), ("Cache-Control", self.cache_control)]
        if self.vary:
            validators.append(("Vary", "Accept-Encoding"))

        validators += [
            ("X-Content-Type-Options", "nosniff"),
            ("X-Heady-Served-By", "origin"),
        ]
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(size)),
            ("Last-Modified", http_date(last_modified)),
            ("Accept-Ranges", "bytes"),
        ]
        if coding is not None:
            headers.append(("Content-Encoding", coding))

        full_headers = tuple(headers + validators)
        return Representation(
            source=source,
            size=size,
            etag=etag,
            last_modified=last_modified,
            coding=coding,
            content=content,
            headers=full_headers,
            not_modified=Answer(NOT_MODIFIED, tuple(validators), ()),
            head=Answer(OK, full_headers, ()),
            full=None if content is None else Answer(OK, full_headers, (content,)),
        )
