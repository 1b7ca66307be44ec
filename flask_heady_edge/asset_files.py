"""Opening an indexed file at request time: the very file indexed, or none at all."""

from __future__ import annotations

import io
import logging
import os
import stat
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

logger = logging.getLogger(__name__)

# Every open refuses a symlink in its last component; the folders on the way
# are opened one at a time relative to each other, so a folder swapped for a
# symlink is refused too. A FIFO put in a file's place must not block the
# worker in open(), hence O_NONBLOCK (it changes nothing for regular files).
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC

# Without openat() (Windows), each file is opened by its whole path and the
# identity check after opening is what keeps other bytes out.
_WALKS_FOLDERS = os.open in os.supports_dir_fd and _NOFOLLOW != 0


class FileIdentity(NamedTuple):
    """What tells the indexed file from any other: where it lives, size, mtime."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> FileIdentity:
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """A file as the index saw it: its folder, its path in it, its identity."""

    folder: IndexedFolder
    #: The file's real path below the folder, one name per segment.
    parts: tuple[str, ...]
    identity: FileIdentity

    @property
    def path(self) -> str:
        return os.path.join(self.folder.root, *self.parts)

    def open(self) -> BinaryIO | None:
        """The file opened for reading, if it is still the one indexed."""
        return self.folder.open(self.parts, self.identity)


class IndexedFolder:
    """The public folder as request-time reads see it.

    A file too large to keep in memory is read again for each answer, and
    the tree may have changed since it was indexed: the file replaced by a
    symlink to ``/etc/passwd``, rewritten, or a folder on its way swapped.
    :meth:`open` hands out only the file the index saw, so an answer never
    carries other bytes under the index's ``Content-Length`` and ``ETag``.
    """

    def __init__(self, root: str, autoreload: bool) -> None:
        self.root = root
        self.autoreload = autoreload
        self._reported: set[str] = set()

    def open(self, parts: tuple[str, ...], identity: FileIdentity) -> BinaryIO | None:
        """The file at ``parts`` below the root if it is still the indexed one.

        Returns None, after one WARNING per file, when it is gone, is a
        symlink now, lies behind a symlink now, or differs in device, inode,
        size or mtime from what the index recorded.
        """
        try:
            descriptor = self._open_descriptor(parts)
        except OSError as error:
            self._report(parts, error.strerror or type(error).__name__)
            return None

        status = os.fstat(descriptor)
        seen = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
        if not stat.S_ISREG(status.st_mode) or seen != identity:
            os.close(descriptor)
            self._report(parts, "its inode, size or modification time differ")
            return None

        # Unbuffered: the bytes go out in large blocks, or by sendfile().
        return io.FileIO(descriptor, "rb")

    def _open_descriptor(self, parts: tuple[str, ...]) -> int:
        if not _WALKS_FOLDERS:
            return os.open(os.path.join(self.root, *parts), _FILE_FLAGS)

        folder = os.open(self.root, _FOLDER_FLAGS)
        try:
            for name in parts[:-1]:
                inner = os.open(name, _FOLDER_FLAGS, dir_fd=folder)
                os.close(folder)
                folder = inner

            return os.open(parts[-1], _FILE_FLAGS, dir_fd=folder)
        finally:
            os.close(folder)

    def _report(self, parts: tuple[str, ...], reason: str) -> None:
        path = os.path.join(self.root, *parts)
        if path in self._reported:
            return

        # One line per file, not one per request: a changed file stays
        # changed until the next restart (or the next lookup, with autoreload).
        self._reported.add(path)
        if self.autoreload:
            logger.warning(
                "Static file %s changed while it was being served (%s); answered 404.",
                path,
                reason,
            )
        else:
            logger.warning(
                "Static file %s changed since startup (%s) and"
                " HEADY_STATIC_AUTORELOAD is off: it answers 404 until restart.",
                path,
                reason,
            )
