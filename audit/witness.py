"""Witnesses: copies of the signed checkpoints kept outside the database.

A checkpoint in the database proves nothing to someone who controls the database: they can
delete the events after the newest checkpoint, or delete the checkpoints and rewrite the chain
with recomputed hashes, and `verify_audit` would pass. So every checkpoint is also written to
each directory in AUDIT_WITNESS_DIRS, which should live on another machine (an NFS or SMB
mount of a host the database's owner does not administer, made append-only there:
docs/operations.md, "Audit witnesses"). `verify_audit` reads them back and holds the chain to
every checkpoint they keep.

A witness file is never overwritten: one file per (seq, signing key), created exclusively. A
file already there with other content is an error (someone wrote it, or a write was cut short),
never silently replaced.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

PATTERN = "checkpoint-*.json"
FIELDS = {"seq", "head_hash", "time", "public_key", "signature"}  # a checkpoint document's


def missing_fields(document) -> str:
    """The fields a checkpoint document lacks, named ("" when it is whole)."""
    if not isinstance(document, dict):
        return ", ".join(sorted(FIELDS))
    return ", ".join(sorted(FIELDS - set(document)))


class WitnessError(Exception):
    """A witness could not be written or read."""


def directories() -> list[Path]:
    return [Path(d) for d in settings.AUDIT_WITNESS_DIRS]


def configured() -> bool:
    return bool(settings.AUDIT_WITNESS_DIRS)


def _name(document: dict) -> str:
    return f"checkpoint-{int(document['seq']):015d}-{document['public_key'][:16]}.json"


def _content(document: dict) -> bytes:
    return (json.dumps(document, sort_keys=True) + "\n").encode()


def record(document: dict) -> list[Path]:
    """Write the checkpoint document to every witness directory (a file it already holds with the
    same content counts as written). Raises WitnessError naming each directory that failed,
    after trying all of them."""
    written, failures = [], []
    for directory in directories():
        try:
            written.append(_write(directory, document))
        except (OSError, WitnessError) as error:
            failures.append(f"{directory}: {error}")
    if failures:
        log.error("audit checkpoint %s not witnessed: %s", document["seq"], "; ".join(failures))
        raise WitnessError("; ".join(failures))
    return written


def _write(directory: Path, document: dict) -> Path:
    path = directory / _name(document)
    data = _content(document)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        if path.read_bytes() != data:
            raise WitnessError(f"{path.name} is there with other content") from None
        return path
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _sync_directory(directory)
    return path


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every filesystem lets a directory be opened; the file itself is synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def documents(paths: list[Path] | None = None) -> list[dict]:
    """Every checkpoint document the witness directories hold. Raises WitnessError when a
    directory cannot be read or a file in it is not a checkpoint (a check that silently read
    nothing would pass the very tampering it is for)."""
    out = []
    for directory in directories() if paths is None else paths:
        if not directory.is_dir():
            raise WitnessError(f"{directory} is not a readable directory")
        for path in sorted(directory.glob(PATTERN)):
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise WitnessError(f"{path}: not a checkpoint ({error})") from None
            if lacks := missing_fields(document):
                raise WitnessError(f"{path}: a checkpoint lacks {lacks}")
            out.append(document)
    return out


def holders(document: dict) -> list[tuple[Path, bool]]:
    """Each witness directory, and whether it holds this checkpoint document as written (a file
    missing, unreadable or with other content: False)."""
    out = []
    for directory in directories():
        try:
            held = (directory / _name(document)).read_bytes() == _content(document)
        except OSError:
            held = False
        out.append((directory, held))
    return out
