"""Pin images at load time: match a directory's files to pins, and check each image opens.

Only regular files are opened, and without blocking (a FIFO named ``x.png`` would otherwise hang
the load inside its transaction); images too large to decode, symlink loops and anything else
that cannot be read count as unreadable, like a missing file.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import duckdb

from workbench.engine.errors import InputError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def stage_image_dir(con: duckdb.DuckDBPyConnection, images: Path) -> int:
    """Temp table ``_imgs(stem, path)`` of the image files in ``images`` (not descended into);
    returns how many there are."""
    if not images.is_dir():
        raise InputError(f"{images}: not a directory (expected a directory of image files)")
    base = Path(os.path.abspath(images))
    with os.scandir(images) as entries:
        found = [(Path(e.name).stem, str(base / e.name)) for e in entries
                 if Path(e.name).suffix.lower() in IMAGE_EXTENSIONS]  # fmt: skip
    if not found:
        raise InputError(f"{images}: no image files (.png, .jpg, ...) found")
    con.execute("CREATE TEMP TABLE _imgs (stem VARCHAR, path VARCHAR)")
    con.executemany("INSERT INTO _imgs VALUES (?, ?)", found)
    return len(found)


def image_readable(path: str) -> bool:
    """True when ``path`` is a regular file whose image header decodes (pixels are not read)."""
    from PIL import Image, UnidentifiedImageError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:  # missing, a symlink loop, no permission
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        with os.fdopen(fd, "rb", closefd=False) as f, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(f) as im:
                im.size  # noqa: B018 - touching size reads and validates the header
            return True
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    finally:
        os.close(fd)


def unreadable_images(rows: list[tuple[int, str]]) -> list[int]:
    """The ids of the ``(id, path)`` rows whose image cannot be read."""
    return [i for i, path in rows if not image_readable(path)]
