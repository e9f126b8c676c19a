"""The archive an export writes its files into: zip or tar, on local disk.

Members are written one after another, each whole, so a writer never holds
more than the member it is adding. Large members are built in a file of the
export's working directory and added from there.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Protocol

from labelmesh.v1.dataset_service_pb2 import ArchiveFormat

# Members whose bytes are already compressed are stored as they are.
_STORED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".mp3", ".mp4", ".flac"})
_COPY_BYTES = 1024 * 1024


class Archive(Protocol):
    def write(self, name: str, data: bytes) -> None:
        """Add a member holding `data`."""
        ...

    def write_file(self, name: str, path: Path) -> None:
        """Add a member holding the file at `path`, read a part at a time."""
        ...

    def close(self) -> None: ...


class ZipArchive:
    def __init__(self, path: Path) -> None:
        # Level 1: most of the gain of deflate for a small share of its time.
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, True, compresslevel=1)

    def write(self, name: str, data: bytes) -> None:
        self._zip.writestr(_zip_info(name), data, compress_type=_compression(name))

    def write_file(self, name: str, path: Path) -> None:
        info = _zip_info(name)
        info.compress_type = _compression(name)
        with path.open("rb") as source, self._zip.open(info, "w", force_zip64=True) as member:
            while block := source.read(_COPY_BYTES):
                member.write(block)

    def close(self) -> None:
        self._zip.close()


class TarArchive:
    def __init__(self, path: Path) -> None:
        self._tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)

    def write(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    def write_file(self, name: str, path: Path) -> None:
        info = tarfile.TarInfo(name)
        info.size = path.stat().st_size
        with path.open("rb") as source:
            self._tar.addfile(info, source)

    def close(self) -> None:
        self._tar.close()


def open_archive(kind: int, path: Path) -> Archive:
    if kind == ArchiveFormat.ARCHIVE_FORMAT_TAR:
        return TarArchive(path)
    return ZipArchive(path)


def archive_suffix(kind: int) -> str:
    return ".tar" if kind == ArchiveFormat.ARCHIVE_FORMAT_TAR else ".zip"


def archive_content_type(kind: int) -> str:
    return "application/x-tar" if kind == ArchiveFormat.ARCHIVE_FORMAT_TAR else "application/zip"


def _zip_info(name: str) -> zipfile.ZipInfo:
    # A fixed timestamp, so the same version always packs into the same bytes.
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def _compression(name: str) -> int:
    suffix = Path(name).suffix.lower()
    return zipfile.ZIP_STORED if suffix in _STORED_SUFFIXES else zipfile.ZIP_DEFLATED
