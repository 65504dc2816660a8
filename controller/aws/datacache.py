"""A persistent cache of botocore's parsed data files, so a new process skips the JSON.

Every `stackop plan` creates about a dozen clients, and botocore parses their data files
(service models, endpoint rules, partitions, ...) from JSON each time: ~0.2 s of CPU,
most of it ec2's model. `install` gives a session a loader that keeps each parsed file
as a `marshal` blob (which loads several times faster and executes no code) in
$STACKOP_CACHE_DIR, else $XDG_CACHE_HOME/stackop, else ~/.cache/stackop;
STACKOP_CACHE_DIR="" turns it off.

A blob starts with a digest of what it was made from (botocore version, Python's marshal
format, the source file's absolute path, mtime and size), so an upgrade or an edited
file is parsed afresh. The list of services in botocore's own data directory (~1,300
directory listings a process, to check a client's service name) is kept the same way,
keyed by botocore's version and that directory; other search paths (~/.aws/models) are
always listed afresh. Anything wrong (no usable directory, a blob truncated, foreign or
of the wrong type, a failed write) means botocore's own JSON loading, one debug line,
never an error.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import marshal
import os
import re
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import JSONFileLoader, Loader, instance_cache
from botocore.session import Session

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "STACKOP_CACHE_DIR"
SUBDIR = "botocore-data"
FORMAT = "1"
# the extensions botocore's JSONFileLoader tries, in its order
EXTENSIONS = (".json", ".json.gz")
DIGEST_SIZE = 32
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def cache_root(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The stackop cache directory, or None when turned off or there is no home."""
    if CACHE_DIR_ENV in environ:
        chosen = environ[CACHE_DIR_ENV]
        return Path(chosen).expanduser().absolute() if chosen else None
    xdg = environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative value is ignored
        return Path(xdg) / "stackop"
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "stackop" if os.path.isabs(home) else None


def _trusted(directory: Path) -> bool:
    """Ours or root's, and writable by nobody else: a blob there is believed (endpoint
    rules decide where signed requests go)."""
    info = directory.stat()
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid in (0, os.getuid())
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _plain(value: Any) -> Any:
    """`value` with every dict a plain dict (botocore parses into OrderedDicts, which
    marshal refuses; dicts keep their order)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class CachedFileLoader(JSONFileLoader):  # type: ignore[misc]
    """botocore's JSON file loader with a marshal blob per data file in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._writable = True

    def blob_path(self, source: str) -> Path:
        """Where the blob of `source` (an absolute data file path) lives: one per file,
        named after it, replaced when the file or botocore changes."""
        parts = Path(source).parts[-3:]
        readable = _UNSAFE.sub("_", "_".join(parts))[:80]
        digest = hashlib.sha256(os.fsencode(source)).hexdigest()[:16]
        return self.directory / f"{readable}-{digest}.marshal"

    @staticmethod
    def stamp(source: str, info: os.stat_result) -> bytes:
        """What a blob of `source` must start with to be used."""
        key = "\0".join(
            (
                FORMAT,
                botocore.__version__,
                sys.implementation.cache_tag or "",
                str(marshal.version),
                source,
                str(info.st_mtime_ns),
                str(info.st_size),
            )
        )
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()

    def load_file(self, file_path: str) -> Any:
        for ext in EXTENSIONS:
            source = os.path.abspath(file_path + ext)
            try:
                info = os.stat(source)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            stamp = self.stamp(source, info)
            blob = self.blob_path(source)
            cached = self._read(blob, stamp)
            if cached is not None:
                return cached
            data = super().load_file(file_path)
            if isinstance(data, dict | list):
                self._write(blob, stamp, data)
            return data
        return super().load_file(file_path)

    def listing(self, location: str, type_name: str) -> list[str]:
        """The services under `location` that have a `type_name` file, from a blob when
        one was made for this botocore version, location (and its mtime) and type."""
        source = os.path.abspath(location)
        info = os.stat(source)
        stamp = self.stamp(f"{source}\0listing\0{type_name}", info)
        blob = self.blob_path(os.path.join(source, f"{type_name}.listing"))
        cached = self._read(blob, stamp)
        if isinstance(cached, list) and all(isinstance(name, str) for name in cached):
            return cached
        found = services_in(source, type_name, self)
        self._write(blob, stamp, found)
        return found

    def _read(self, blob: Path, stamp: bytes) -> Any:
        try:
            with open(blob, "rb") as handle:
                content = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.debug("botocore data cache: cannot read %s: %s", blob, exc)
            return None
        if content[:DIGEST_SIZE] != stamp:
            logger.debug("botocore data cache: %s is stale or foreign", blob)
            return None
        collecting = gc.isenabled()
        if collecting:  # ~100k new containers: collections now would scan them in vain
            gc.disable()
        try:
            data = marshal.loads(memoryview(content)[DIGEST_SIZE:])
        except Exception as exc:  # truncated or garbage: EOFError, ValueError, TypeError
            logger.debug("botocore data cache: unreadable %s: %s", blob, exc)
            return None
        finally:
            if collecting:
                gc.enable()
        if type(data) not in (dict, list):
            logger.debug("botocore data cache: %s holds a %s", blob, type(data).__name__)
            return None
        return data

    def _write(self, blob: Path, stamp: bytes, data: dict[str, Any] | list[Any]) -> None:
        if not self._writable:
            return
        temp = None
        try:
            payload = marshal.dumps(_plain(data))
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(stamp)
                handle.write(payload)
            os.replace(temp, blob)
            temp = None
        except Exception as exc:  # read-only, full, gone: stop trying for this process
            self._writable = False
            logger.debug("botocore data cache: not writing to %s: %s", self.directory, exc)
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)


def services_in(location: str, type_name: str, files: JSONFileLoader) -> list[str]:
    """botocore's `Loader.list_available_services` for one search path."""
    services = []
    for name in os.listdir(location):
        directory = os.path.join(location, name)
        if os.path.isdir(directory) and any(
            files.exists(os.path.join(directory, version, type_name))
            for version in os.listdir(directory)
        ):
            services.append(name)
    return sorted(services)


class CachedLoader(Loader):  # type: ignore[misc]
    """botocore's loader with the cached file loader, and botocore's own data directory
    listed from the cache (only installing another botocore changes it)."""

    file_loader: CachedFileLoader

    @instance_cache  # type: ignore[untyped-decorator]
    def list_available_services(self, type_name: str) -> list[str]:
        services: set[str] = set()
        builtin = os.path.abspath(self.BUILTIN_DATA_PATH)
        for location in self._potential_locations():
            if os.path.abspath(location) == builtin:
                services.update(self.file_loader.listing(location, type_name))
            else:
                services.update(services_in(location, type_name, self.file_loader))
        return sorted(services)


def cache_directory(root: Path | None) -> Path | None:
    """The blobs' directory under `root`, created if missing; None if unusable."""
    if root is None:
        return None
    directory = root / SUBDIR
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _trusted(directory):
            return directory
        logger.debug("botocore data cache off: %s is writable by others", directory)
    except OSError as exc:
        logger.debug("botocore data cache off: %s", exc)
    return None


def cached_loader(session: Session, directory: Path) -> Loader:
    """The loader `botocore.loaders.create_loader` makes for `session`, with the cache."""
    search = session.get_config_variable("data_path")
    paths = None
    if search is not None:
        paths = [os.path.expanduser(os.path.expandvars(p)) for p in search.split(os.pathsep)]
    return CachedLoader(extra_search_paths=paths, file_loader=CachedFileLoader(directory))


def install(session: Session, root: Path | None = None) -> bool:
    """Give `session` (before any client exists) the caching data loader; False if off."""
    directory = cache_directory(root if root is not None else cache_root())
    if directory is None:
        return False
    session.register_component("data_loader", cached_loader(session, directory))
    return True
