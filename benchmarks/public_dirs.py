"""Folders of static files to serve: assets of set sizes, and trees of many files."""

from __future__ import annotations

import os
import random

#: Written in pieces of this size, so a 200 MiB file never sits in memory.
PIECE = 1024 * 1024


def size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:g} MiB"

    return f"{size / 1024:g} KiB"


def asset_name(size: int) -> str:
    return f"asset-{size_label(size).replace(' ', '').lower()}.js"


def write_file(path: str, size: int, seed: int) -> None:
    """``size`` bytes that do not repeat within a piece, the same for a seed."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    piece = random.Random(seed).randbytes(min(size, PIECE))
    with open(path, "wb") as file:
        written = 0
        while written < size:
            chunk = piece[: size - written]
            file.write(chunk)
            written += len(chunk)

    os.chmod(path, 0o644)


def make_assets(root: str, sizes: tuple[int, ...]) -> dict[int, str]:
    """One asset per size in ``root``; their URL paths, by size."""
    paths = {}
    for seed, size in enumerate(sizes):
        name = asset_name(size)
        write_file(os.path.join(root, name), size, seed)
        paths[size] = f"/{name}"

    return paths


def make_tree(root: str, count: int, size: int = 1024) -> str:
    """``count`` files in folders of 100, ``index.html`` among them.

    Returns the URL path of the first asset, the one that is loaded.
    """
    write_file(os.path.join(root, "index.html"), size, 0)
    for number in range(1, count):
        folder = f"d{number // 100:03d}"
        write_file(
            os.path.join(root, "files", folder, f"f{number:05d}.js"), size, number
        )

    return "/files/d000/f00001.js"
