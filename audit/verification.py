"""Recompute the chain from the raw event rows and check every signed checkpoint.

Trusts nothing in the database: not the chain head row (used only to spot a cut-off tail), not the
public keys stored beside checkpoints (a checkpoint counts only when signed by the configured key
or by a key from a checkpoint file kept outside the database).

Fast path: rows are read in keyset batches (`seq > last ORDER BY seq LIMIT n`, one snapshot) as
plain tuples, the canonical text is concatenated from raw column values (the data column holds the
canonical JSON text, see audit.serialization) and hashed with hashlib. Only when a row fails does
the slow diagnosis run, which queries around the row to name the kind of damage:

- missing:   a sequence number is absent (deleted event), or the rows after a deletion were
             renumbered so the event at seq S is the one first recorded as S + 1;
- inserted:  the row at S is not part of the chain and the rows after it are shifted by one;
- reordered: the row at S holds an intact event that was first recorded at another seq;
- altered:   the row's content or hash no longer matches what was hashed, or a signed checkpoint
             shows the chain up to S was rewritten with recomputed hashes;
- bad checkpoint signature: a checkpoint (in the database or the file) whose signature does not
             verify with a trusted key.

Merkle tree: not built. Proving one event is in the ledger means showing the chain from it to the
next checkpoint, which costs time linear in that distance; verification of the whole ledger is
linear anyway (150k-270k events/s on a 2-core machine, see bench/audit_append.py).
"""

import hashlib
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from json.encoder import encode_basestring

from django.db import connections, transaction

from audit import ddl, signing
from audit.serialization import GENESIS, canonical_parts

ALTERED = "altered"
MISSING = "missing"
REORDERED = "reordered"
INSERTED = "inserted"
BAD_SIGNATURE = "bad checkpoint signature"

BATCH = 5_000
BRUTE_FORCE_LIMIT = 2_000_000

_COLUMNS = (
    "seq, version, {time}, actor_type, actor_id, actor_label, action, target_type, target_id,"
    " target_label, data, ip, user_agent, request_id, prev_hash, hash"
)
_TIME = {
    "postgresql": "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    # Django stores naive UTC text, 'YYYY-MM-DD HH:MM:SS' plus '.ffffff' when non-zero.
    "sqlite": (
        "substr(created_at, 1, 10) || 'T' || substr(created_at, 12, 8) || '.' ||"
        " CASE WHEN length(created_at) > 19 THEN substr(created_at, 21, 6) ELSE '000000' END"
        " || 'Z'"
    ),
}


@dataclass
class Damage:
    seq: int
    kind: str
    detail: str

    def __str__(self):
        return f"seq {self.seq}: {self.kind} - {self.detail}"


@dataclass
class Result:
    count: int = 0
    last_seq: int = 0
    head_hash: str = GENESIS
    checkpoints: int = 0
    damage: Damage | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.damage is None

    def summary(self) -> str:
        return f"verified {self.count} events up to seq {self.last_seq}, head {self.head_hash}"


@dataclass
class Expectation:
    seq: int
    head_hash: str
    source: str


def row_canonical(row, seq: int | None = None) -> bytes:
    """Canonical bytes of a fetched row, optionally as if it had sequence number seq."""
    (
        own_seq,
        version,
        time,
        actor_type,
        actor_id,
        actor_label,
        action,
        target_type,
        target_id,
        target_label,
        data,
        ip,
        user_agent,
        request_id,
        _prev,
        _hash,
    ) = row
    head, mid, tail = canonical_parts(
        version=version,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        data_text=data,
        ip=ip,
        user_agent=user_agent,
        request_id=request_id,
    )
    return f"{head}{own_seq if seq is None else seq}{mid}{time}{tail}".encode()


def _hash_as(row, seq: int) -> str:
    return hashlib.sha256(bytes.fromhex(row[14]) + row_canonical(row, seq)).hexdigest()


class _Ledger:
    """Read access to the raw rows for one verification run."""

    def __init__(self, using: str):
        self.connection = connections[using]
        vendor = self.connection.vendor
        if vendor not in _TIME:
            raise NotImplementedError(f"verify_audit does not support {vendor}")
        self.select = f"SELECT {_COLUMNS.format(time=_TIME[vendor])} FROM {ddl.EVENT_TABLE}"  # noqa: S608 - constant table names, bound values

    def rows_from(self, seq: int, limit: int) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(f"{self.select} WHERE seq >= %s ORDER BY seq LIMIT %s", [seq, limit])
            return cursor.fetchall()

    def batches(self, seq: int):
        """Keyset batches from seq on. On PostgreSQL the next batch is fetched by a helper thread
        on the same connection (same transaction, same snapshot) while this one is hashed."""
        if self.connection.vendor != "postgresql":
            while rows := self.rows_from(seq, BATCH):
                yield rows
                seq = rows[-1][0] + 1
            return
        self.connection.ensure_connection()
        raw = self.connection.connection  # psycopg connections serialise use across threads
        sql = f"{self.select} WHERE seq >= %s ORDER BY seq LIMIT %s"

        def fetch(start: int) -> list[tuple]:
            with raw.cursor() as cursor:
                cursor.execute(sql, [start, BATCH])
                return cursor.fetchall()

        with ThreadPoolExecutor(max_workers=1) as pool:
            rows = fetch(seq)
            while rows:
                pending = pool.submit(fetch, rows[-1][0] + 1)
                try:
                    yield rows
                finally:
                    wait([pending])  # never leave a query running on the connection
                rows = pending.result()

    def row_after(self, seq: int):
        rows = self.rows_from(seq + 1, 1)
        return rows[0] if rows else None

    def hash_at(self, seq: int) -> str | None:
        if seq == 0:
            return GENESIS
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT hash FROM {ddl.EVENT_TABLE} WHERE seq = %s", [seq])  # noqa: S608 - constant table names, bound values
            found = cursor.fetchone()
        return found[0] if found else None

    def seq_of_hash(self, value: str) -> int | None:
        if value == GENESIS:
            return 0
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT seq FROM {ddl.EVENT_TABLE} WHERE hash = %s", [value])  # noqa: S608 - constant table names, bound values
            found = cursor.fetchone()
        return found[0] if found else None

    def max_seq(self) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(seq) FROM {ddl.EVENT_TABLE}")  # noqa: S608 - constant table names, bound values
            return cursor.fetchone()[0] or 0

    def head(self):
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT seq, hash FROM {ddl.HEAD_TABLE} WHERE id = 1")  # noqa: S608 - constant table names, bound values
            return cursor.fetchone()

    def checkpoints_from(self, seq: int) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT seq, head_hash, {_TIME[self.connection.vendor]}, version, public_key,"  # noqa: S608 - constant table names, bound values
                f" signature FROM {ddl.CHECKPOINT_TABLE} WHERE seq >= %s ORDER BY seq, id",
                [seq],
            )
            return cursor.fetchall()


def _original_seq(ledger: _Ledger, row) -> int | None:
    """The seq this row's event was first recorded at, found by re-hashing; None if none fits."""
    linked = ledger.seq_of_hash(row[14])
    tried = set()
    if linked is not None:
        for candidate in (linked + 1, linked, linked + 2, linked - 1):
            if candidate >= 1:
                tried.add(candidate)
                if _hash_as(row, candidate) == row[15]:
                    return candidate
    upper = min(max(ledger.max_seq(), row[0]) + 1, BRUTE_FORCE_LIMIT)
    for candidate in range(1, upper + 1):
        if candidate not in tried and _hash_as(row, candidate) == row[15]:
            return candidate
    return None


def _diagnose(ledger: _Ledger, row, expected_seq: int, last_hash: str) -> Damage:
    seq, prev, stored = row[0], row[14], row[15]
    if seq > expected_seq:
        span = (
            f"seq {expected_seq}" if seq == expected_seq + 1 else f"seqs {expected_seq}-{seq - 1}"
        )
        return Damage(expected_seq, MISSING, f"{span} absent: the event was deleted")
    if seq < expected_seq:  # cannot happen with seq as primary key; kept for other backends
        return Damage(seq, REORDERED, "sequence numbers go backwards")
    self_ok = _hash_as(row, seq) == stored
    link_ok = prev == last_hash
    if (
        not link_ok
        and seq >= 2
        and prev == ledger.hash_at(seq - 2)
        and _hash_as(row, seq - 1) == stored
    ):
        return Damage(
            seq - 1,
            INSERTED,
            f"the row at seq {seq - 1} is not part of the chain: the event recorded as "
            f"seq {seq - 1} now sits at seq {seq} and links past it",
        )
    if not self_ok and link_ok:
        following = ledger.row_after(seq)
        if (
            following is not None
            and following[0] == seq + 1
            and following[14] == last_hash
            and _hash_as(following, seq) == following[15]
        ):
            return Damage(
                seq,
                INSERTED,
                f"the row at seq {seq} is not part of the chain: the event recorded as seq {seq}"
                f" now sits at seq {seq + 1}",
            )
        return Damage(seq, ALTERED, "the stored event does not match its hash")
    if self_ok and not link_ok:
        return Damage(
            seq - 1,
            ALTERED,
            f"seq {seq} links to a different hash than the one stored for seq {seq - 1}: the "
            f"event at seq {seq - 1} was replaced and its hash recomputed, or the chain head row "
            f"was edited before seq {seq} was appended",
        )
    original = _original_seq(ledger, row)
    if original == seq + 1 and ledger.seq_of_hash(prev) is None:
        # The event it was chained to is gone (a swap would have kept it somewhere).
        return Damage(
            seq,
            MISSING,
            f"the event recorded as seq {seq} was removed and the later events renumbered "
            f"(seq {seq} holds the event recorded as seq {seq + 1})",
        )
    if original is not None and original != seq:
        return Damage(seq, REORDERED, f"seq {seq} holds the event first recorded as seq {original}")
    return Damage(seq, ALTERED, "the stored event and its link to the previous event changed")


def _checkpoint_expectations(
    ledger: _Ledger, from_seq: int, documents: list[dict], result: Result
) -> tuple[dict[int, list[Expectation]], list[Damage]]:
    trusted = set()
    configured = signing.trusted_public_key()
    if configured:
        trusted.add(configured)
    damages: list[Damage] = []
    expected: dict[int, list[Expectation]] = {}
    for doc in documents:
        seq = int(doc["seq"])
        message = signing.statement(
            seq=seq, head_hash=doc["head_hash"], time=doc["time"], version=doc.get("version", 1)
        )
        if not signing.signature_ok(doc["public_key"], doc["signature"], message):
            damages.append(
                Damage(seq, BAD_SIGNATURE, "the checkpoint file's signature does not verify")
            )
            continue
        trusted.add(doc["public_key"])
        if seq >= from_seq:
            expected.setdefault(seq, []).append(
                Expectation(seq, doc["head_hash"], f"checkpoint file (made {doc['time']})")
            )
    if not trusted:
        result.warnings.append(
            "no signing key configured and no checkpoint file given: checkpoint signatures were "
            "checked against the public keys stored in the database only"
        )
    for seq, head_hash, time, version, public_key, signature in ledger.checkpoints_from(from_seq):
        message = signing.statement(seq=seq, head_hash=head_hash, time=time, version=version)
        if trusted and public_key not in trusted:
            damages.append(Damage(seq, BAD_SIGNATURE, "checkpoint signed by an untrusted key"))
            continue
        if not signing.signature_ok(public_key, signature, message):
            damages.append(Damage(seq, BAD_SIGNATURE, "the checkpoint's signature does not verify"))
            continue
        expected.setdefault(seq, []).append(
            Expectation(seq, head_hash, f"database checkpoint (made {time})")
        )
    return expected, damages


@contextmanager
def snapshot(using: str = "default"):
    """A read-only transaction that, on PostgreSQL, reads one snapshot throughout (REPEATABLE
    READ), so what commits meanwhile (an append, an edit) cannot look like damage."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def verify(*, from_seq: int = 1, checkpoints: list[dict] | None = None, using="default") -> Result:
    """Verify events from from_seq to the end, and every checkpoint from from_seq on, in one
    snapshot."""
    with snapshot(using):
        return _verify(_Ledger(using), max(from_seq, 1), checkpoints or [])


def _verify(ledger: _Ledger, from_seq: int, documents: list[dict]) -> Result:
    result = Result()
    expected, damages = _checkpoint_expectations(ledger, from_seq, documents, result)
    result.checkpoints = sum(len(v) for v in expected.values())
    last_hash = ledger.hash_at(from_seq - 1)
    if last_hash is None:
        damages.append(Damage(from_seq - 1, MISSING, f"seq {from_seq - 1} absent"))
        last_hash = GENESIS
    last_seq = from_seq - 1
    matched_upto = from_seq - 1
    chain_damage = None
    count = 0
    sha256 = hashlib.sha256
    fromhex = bytes.fromhex
    enc = encode_basestring
    batches = ledger.batches(from_seq)
    while chain_damage is None:
        rows = next(batches, None)
        if not rows:
            break
        for row in rows:
            (
                seq,
                version,
                time,
                actor_type,
                actor_id,
                actor_label,
                action,
                target_type,
                target_id,
                target_label,
                data,
                ip,
                user_agent,
                request_id,
                prev,
                stored,
            ) = row
            # canonical_parts inlined (the hot loop); tests hold the two to the same bytes.
            text = (
                f'{{"action":{enc(action)},"actor":{{"id":'
                f'{"null" if actor_id is None else actor_id},"label":{enc(actor_label)},'
                f'"type":{enc(actor_type)}}},"data":{data},'
                f'"ip":{"null" if ip is None else enc(ip)},'
                f'"request_id":{"null" if request_id is None else enc(request_id)},'
                f'"seq":{seq},"target":{{"id":{enc(target_id)},"label":{enc(target_label)},'
                f'"type":{enc(target_type)}}},"time":"{time}",'
                f'"user_agent":{"null" if user_agent is None else enc(user_agent)},'
                f'"v":{version}}}'
            )
            digest = sha256(fromhex(prev) + text.encode()).hexdigest()
            if seq != last_seq + 1 or digest != stored or prev != last_hash:
                chain_damage = _diagnose(ledger, row, last_seq + 1, last_hash)
                break
            if seq in expected:
                for exp in expected[seq]:
                    if exp.head_hash != stored:
                        chain_damage = Damage(
                            seq,
                            ALTERED,
                            f"the chain does not match the signed {exp.source}: events after "
                            f"seq {matched_upto} up to seq {seq} were rewritten and their hashes "
                            f"recomputed",
                        )
                        break
                else:
                    matched_upto = seq
                if chain_damage is not None:
                    break
            last_seq, last_hash = seq, stored
            count += 1
    batches.close()
    if chain_damage is None:
        beyond = [s for s in expected if s > last_seq]
        if beyond:
            chain_damage = Damage(
                last_seq + 1,
                MISSING,
                f"a signed checkpoint covers seq {max(beyond)} but the ledger ends at seq "
                f"{last_seq}: the events after it were deleted",
            )
    if chain_damage is None:
        head = ledger.head()
        if head is not None and head[0] > last_seq:
            chain_damage = Damage(
                last_seq + 1,
                MISSING,
                f"the chain head records seq {head[0]} but the ledger ends at seq {last_seq}: "
                f"the events after it were deleted (or the head row was edited)",
            )
        elif head is not None and head[0] < last_seq and head[0] >= from_seq - 1:
            chain_damage = Damage(
                head[0] + 1,
                INSERTED,
                f"events after seq {head[0]} were not appended through the chain head "
                f"(or the head row was edited)",
            )
    if chain_damage is not None:
        damages.append(chain_damage)
    if damages:
        result.damage = min(damages, key=lambda d: (d.seq, d.kind == BAD_SIGNATURE))
    result.count, result.last_seq, result.head_hash = count, last_seq, last_hash
    return result
