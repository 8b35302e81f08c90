"""The one atomic file writer both tools use, and the proof, before any work, that it will succeed.

``write_atomic`` writes a temporary file in the target's folder and renames it over the target:
readers see the old file or the new one, and a failed write leaves neither a partial file nor
the temporary one. ``prove_writable`` does the first half of that (creates, then removes, the
temporary file) so a command refuses a report or credential path it could not write *before*
it sends a request or creates a Secret. ``os.access`` cannot do this: as root it says yes for
/proc, and it knows nothing of read-only mounts.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._errors import ConfigError

__all__ = ["prove_writable", "write_atomic"]


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def prove_writable(path: Path | str, *, what: str = "") -> None:
    """Raise ``ConfigError`` (exit 2) unless ``path`` can be written the way ``write_atomic``
    will write it. Leaves nothing behind."""
    path = Path(path)
    source = what or str(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a file" if what else "is a folder, not a file", source=source, fix="name a file in it")
    folder = _folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        reason = "does not exist" if not folder.is_dir() else f"cannot be written ({exc.strerror})"
        raise ConfigError(f"folder {folder} {reason}", source=source, fix="create it, or choose a path in a writable folder") from None
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path | str, text: str, *, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` in one rename, with ``mode`` (0600 for secrets: the temporary
    file is created 0600 and never looser). Raises ``ConfigError`` when it cannot."""
    path = Path(path)
    folder = _folder(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)  # mkstemp creates it 0600
    except OSError as exc:
        raise ConfigError(f"cannot write into {folder}: {exc.strerror}", source=str(path)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}", source=str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
