"""The export zip's format, its writer's file bookkeeping and its offline check (verify_export).

An export is a zip:

    manifest.json                  what is in it: every other file's SHA-256 and size, the search,
                                   the requester, when it was made, counts, and the latest signed
                                   audit checkpoint when it was made
    conversations/<id>.jsonl       one line for the conversation, then one per message with all
                                   its earlier versions, its retraction and its files' metadata
    transcripts/<id>.html          the same, readable (every text escaped)
    email/<id>/<message id>.eml    email conversations: each message as an RFC 5322 message
    attachments/<id>/<file id>-<name>   the files' bytes
    audit/<id>.jsonl               the audit events about the conversation, its messages and
                                   files, each with its chain hash

`verify` needs no database: it checks the file list and every digest against the manifest,
every audit event's hash against its content, and the checkpoint's Ed25519 signature.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from pathlib import Path

from audit import signing
from audit.serialization import GENESIS, canonical_parts, chain_hash

FORMAT = "keepline-export/v1"
MANIFEST = "manifest.json"
BLOCK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name that is the same on every system and never leaves its folder."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "file"
    return cleaned[:100]


class Writer:
    """Adds files to an open zip, each streamed in blocks and digested as written."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self.files: dict[str, dict] = {}
        self.seen_conversations: set[int] = set()

    def add(self, name: str, source, *, compress: bool = True) -> None:
        """`source`: bytes, or a binary file object read from its current position."""
        if name in self.files or name == MANIFEST:
            raise ValueError(f"{name} is already in the export")
        digest, size = hashlib.sha256(), 0
        info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        with self.zf.open(info, "w", force_zip64=True) as out:
            if isinstance(source, bytes):
                digest.update(source)
                out.write(source)
                size = len(source)
            else:
                while block := source.read(BLOCK):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
        self.files[name] = {"sha256": digest.hexdigest(), "size": size}

    def finish(self, manifest: dict) -> None:
        manifest = {**manifest, "files": dict(sorted(self.files.items()))}
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
        self.zf.writestr(MANIFEST, text.encode() + b"\n", compress_type=zipfile.ZIP_DEFLATED)


def event_hash(event: dict) -> str:
    """The chain hash an exported audit event must have (audit.serialization's canonical form)."""
    head, mid, tail = canonical_parts(
        version=event["version"],
        actor_type=event["actor_type"],
        actor_id=event["actor_id"],
        actor_label=event["actor_label"],
        action=event["action"],
        target_type=event["target_type"],
        target_id=event["target_id"],
        target_label=event["target_label"],
        data_text=event["data_text"],
        ip=event["ip"],
        user_agent=event["user_agent"],
        request_id=event["request_id"],
    )
    canonical = f"{head}{event['seq']}{mid}{event['time']}{tail}".encode()
    return chain_hash(event["prev_hash"] or GENESIS, canonical)


class Problem(Exception):
    """The first thing wrong with an export."""


def _digest(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    try:
        with zf.open(name) as fh:
            while block := fh.read(BLOCK):
                digest.update(block)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise Problem(f"{name}: the file is damaged ({error})") from None
    return digest.hexdigest()


def _check_checkpoint(checkpoint, public_key: str | None) -> None:
    if not isinstance(checkpoint, dict):
        raise Problem("the manifest holds no signed audit checkpoint")
    try:
        message = signing.statement(
            seq=int(checkpoint["seq"]),
            head_hash=checkpoint["head_hash"],
            time=checkpoint["time"],
            version=int(checkpoint.get("version", 1)),
        )
        key, signature = checkpoint["public_key"], checkpoint["signature"]
    except (KeyError, TypeError, ValueError):
        raise Problem("the manifest's audit checkpoint is incomplete") from None
    if public_key and key != public_key:
        raise Problem("the audit checkpoint was signed by another key than the one given")
    if not signing.signature_ok(key, signature, message):
        raise Problem("the audit checkpoint's signature does not verify")


def _check_events(zf: zipfile.ZipFile, name: str, checkpoint_seq: int) -> int:
    count = 0
    with zf.open(name) as fh:
        for number, line in enumerate(fh, start=1):
            try:
                event = json.loads(line)
                expected = event_hash(event)
            except (ValueError, KeyError, TypeError):
                raise Problem(f"{name}, line {number}: not an audit event") from None
            if expected != event["hash"]:
                raise Problem(
                    f"{name}, line {number}: audit event #{event['seq']} does not match its hash"
                )
            if event["seq"] > checkpoint_seq:
                raise Problem(
                    f"{name}, line {number}: audit event #{event['seq']} is newer than the"
                    " export's checkpoint"
                )
            count += 1
    return count


def verify(path: str | Path, *, public_key: str | None = None, sha256: str | None = None) -> dict:
    """Check an export offline; returns its manifest, or raises Problem naming the first fault."""
    if sha256:
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while block := fh.read(BLOCK):
                    digest.update(block)
        except OSError as error:
            raise Problem(f"cannot be read ({error})") from None
        if digest.hexdigest() != sha256.strip().lower():
            raise Problem("the zip's SHA-256 differs from the one given")
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise Problem(f"not a readable zip file ({error})") from None
    with zf:
        names = zf.namelist()
        if len(names) != len(set(names)):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise Problem(f"{duplicate} appears twice in the zip")
        if MANIFEST not in names:
            raise Problem("manifest.json is missing")
        try:
            manifest = json.loads(zf.read(MANIFEST))
            files = manifest["files"]
            assert manifest.get("format") == FORMAT and isinstance(files, dict)
        except (ValueError, KeyError, TypeError, AssertionError, zipfile.BadZipFile, zlib.error):
            raise Problem("manifest.json is not a Keepline export manifest") from None
        present = set(names) - {MANIFEST}
        for name in sorted(set(files) - present):
            raise Problem(f"{name} is listed in the manifest but missing from the zip")
        for name in sorted(present - set(files)):
            raise Problem(f"{name} is in the zip but not in the manifest")
        for name in sorted(files):
            expected = files[name].get("sha256") if isinstance(files[name], dict) else None
            if _digest(zf, name) != expected:
                raise Problem(f"{name}: its SHA-256 differs from the manifest's")
        checkpoint = manifest.get("checkpoint")
        _check_checkpoint(checkpoint, public_key)
        for name in sorted(files):
            if name.startswith("audit/"):
                _check_events(zf, name, int(checkpoint["seq"]))
    return manifest
