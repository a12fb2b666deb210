"""The compliance officer's message search and export on PostgreSQL, at 1M messages.

Search: the newest 20 matches (ids, then the 20 messages as the console's list loads them:
governance.search._page_of) for a rare word, a common word (in 3% of messages), a word in no
message and two words together; p95 of each, side by side with the same search done with
`icontains` (governance.search.icontains_queryset: SQLite's fallback) as baseline. The two must
find the same messages. Beside them, on stderr, the floor no engine can go under: the known ids
fetched by primary key in one round trip, then the same loading; icontains' time over that floor
is the most any search engine could gain over it. Export: messages written per second into the
zip for the conversations of one contact (~5% of the messages), checkpoint and manifest included.

The data lives in its own database (keepline_bench_search, or keepline_bench_search_quick for
--quick), built once with INSERT ... SELECT generate_series and reused by later runs while it
holds the expected count. Messages are only inserted (the record guards refuse UPDATE, DELETE
and TRUNCATE, not INSERT); 1% have an earlier version; the full-text indexes are dropped for
the load and built after it. Export zips go to a temporary directory.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402

BENCH = "search_export"
SERVER = "postgres://postgres@127.0.0.1:5432"
RARE, COMMON, NONE, PAIR = "zanzibar", "pedido", "xilofono", ("factura", "vencida")
MESSAGES_PER_CONVERSATION = 50
CONTACTS = 1000
# Filler vocabulary: none of these holds a searched word as a substring (icontains must agree).
WORDS = [
    "hola",
    "gracias",
    "cliente",
    "propuesta",
    "precio",
    "plan",
    "anual",
    "equipo",
    "reunion",
    "semana",
    "mes",
    "llamada",
    "enviar",
    "revisar",
    "cuenta",
    "servicio",
    "soporte",
    "entrega",
    "envio",
    "pago",
    "tarjeta",
    "banco",
    "oferta",
    "obrigado",
    "proposta",
    "reuniao",
    "semana",
    "entrega",
    "valor",
    "cliente",
    "conta",
    "prazo",
    "mensagem",
    "amanha",
    "hello",
    "thanks",
    "quote",
    "pricing",
    "meeting",
    "schedule",
    "team",
    "review",
    "delivery",
    "invoice",
    "support",
    "account",
    "tomorrow",
    "monday",
    "tuesday",
    "morning",
    "afternoon",
    "office",
    "address",
    "phone",
    "email",
    "update",
    "status",
]


def database_url(quick: bool) -> str:
    return f"{SERVER}/keepline_bench_search{'_quick' if quick else ''}"


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def message_count(url: str) -> int:
    """Messages in the bench's database (0 when it holds no table yet), read before Django
    connects: a database rebuilt after Django opened its pool would leave it dead connections."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('comms_message')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT count(*) FROM comms_message").fetchone()[0]


def load(n_messages: int) -> None:
    """Users, contacts and conversations through the ORM (bulk), messages and revisions with
    INSERT ... SELECT, then the full-text indexes and ANALYZE."""
    from django.contrib.auth.models import Group
    from django.db import connection

    from accounts import roles
    from accounts.models import User
    from comms.models import Conversation
    from crm.models import Contact
    from governance import fts

    roles.sync(__import__("django.apps", fromlist=["apps"]).apps)
    rep = User.objects.create(username="bench_rep", first_name="Bench", last_name="Rep")
    rep.groups.add(Group.objects.get(name=roles.REP))
    officer = User.objects.create(username="bench_compliance", first_name="Carla")
    officer.groups.add(Group.objects.get(name=roles.COMPLIANCE))
    contacts = Contact.objects.bulk_create(
        [Contact(owner=rep, first_name=f"Contact{i}", last_name="Bench") for i in range(CONTACTS)]
    )
    n_conversations = n_messages // MESSAGES_PER_CONVERSATION
    Conversation.objects.bulk_create(
        [
            Conversation(
                kind=Conversation.Kind.EMAIL if i % 7 == 0 else Conversation.Kind.WHATSAPP,
                # one contact (the export's) holds every 20th conversation: 5% of the messages
                contact=contacts[0] if i % 20 == 0 else contacts[1 + i % (CONTACTS - 1)],
                assignee=rep,
                subject=f"Bench conversation {i}",
            )
            for i in range(n_conversations)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cur:
        for sql in fts.drop_sql():
            cur.execute(sql)
        cur.execute("SELECT min(id) FROM comms_conversation")
        first_conversation = cur.fetchone()[0]
        words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
        k = len(WORDS)
        # Message i (1..n): conversation i % C, created i seconds after the first; bodies of
        # five filler words plus the searched words at their rates.
        cur.execute(
            f"""
            INSERT INTO comms_message (conversation_id, author_user_id, author_contact_id,
                direction, body, created_at, status, failed_reason, external_id, retracted,
                edited_at, seq, body_sha256, urgent)
            SELECT %s + (i %% %s), CASE WHEN i %% 2 = 0 THEN %s END, NULL,
                CASE WHEN i %% 2 = 0 THEN 'outbound' ELSE 'inbound' END,
                w[1 + (i * 7) %% {k}] || ' ' || w[1 + (i * 13) %% {k}] || ' '
                    || w[1 + (i * 31) %% {k}] || ' ' || w[1 + (i / 7) %% {k}] || ' '
                    || w[1 + (i * 17 + 3) %% {k}] || ' ' || i
                    || CASE WHEN i %% 100 < 3 THEN ' {COMMON}' ELSE '' END
                    || CASE WHEN i %% 100000 = 7 THEN ' {RARE}' ELSE '' END
                    || CASE WHEN i %% 50 = 1 THEN ' {PAIR[0]}' ELSE '' END
                    || CASE WHEN i %% 70 IN (1, 2) THEN ' {PAIR[1]}' ELSE '' END,
                now() - make_interval(secs => %s - i), 'delivered', '', '', i %% 500 = 9,
                CASE WHEN i %% 100 = 50 THEN now() - make_interval(secs => %s - i) END,
                i, '', false
            FROM generate_series(1, %s) AS i, (SELECT {words} AS w) AS vocabulary
            """,  # noqa: S608 - constants of this file
            [
                first_conversation,
                n_conversations,
                rep.pk,
                n_messages,
                n_messages,
                n_messages,
            ],
        )
        # 1% of messages have an earlier version; a few of those held the rare word.
        cur.execute(
            f"""
            INSERT INTO comms_messagerevision (message_id, body, editor_id, edited_at, body_sha256)
            SELECT m.id, 'primera version ' || m.id
                || CASE WHEN m.seq %% 200000 = 50 THEN ' {RARE}' ELSE '' END,
                %s, m.edited_at, ''
            FROM comms_message m WHERE m.edited_at IS NOT NULL
            """,  # noqa: S608
            [rep.pk],
        )
        cur.execute("UPDATE comms_conversation SET last_message_at = now()")
        cur.execute("SET maintenance_work_mem = '256MB'")
        for sql in fts.create_sql():
            cur.execute(sql)
        cur.execute("VACUUM ANALYZE comms_message")
        cur.execute("VACUUM ANALYZE comms_messagerevision")
        cur.execute("ANALYZE comms_conversation")


def p95(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def measure(criteria, engine: str, runs: int, known: list[int] | None = None) -> dict:
    """p95 and p50 of the whole search (ids, then the 20 with their context) and p95 of finding
    the ids alone. engine "oracle" is no search: one round trip fetching the `known` ids by
    primary key, the least any engine must spend, then the same loading."""
    from django.db import connection

    from governance import search

    def find():
        if engine == "oracle":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM comms_message WHERE id = ANY(%s) ORDER BY id DESC", [known]
                )
                return [row[0] for row in cursor.fetchall()], "oracle"
        return search.matching_ids(criteria, limit=search.PAGE_SIZE + 1, engine=engine)

    ids, plan = find()  # warm
    search._page_of(ids[: search.PAGE_SIZE])
    whole, finding = [], []
    for _ in range(runs):
        start = time.perf_counter()
        ids, _plan = find()
        found = time.perf_counter()
        search._page_of(ids[: search.PAGE_SIZE])
        end = time.perf_counter()
        whole.append((end - start) * 1000)
        finding.append((found - start) * 1000)
    return {
        "p95": p95(whole),
        "p50": sorted(whole)[len(whole) // 2],
        "ids_p95": p95(finding),
        "ids": ids,
        "shown": ids[: search.PAGE_SIZE],
        "plan": plan,
    }


def export_rate(contact_id: int) -> tuple[float, int]:
    import audit
    from accounts.models import User
    from governance import exports
    from governance.models import ExportJob

    officer = User.objects.get(username="bench_compliance")
    job = ExportJob.objects.create(requester=officer, params={"contact": contact_id})
    # An event to sign: the manifest's checkpoint covers the ledger up to the export.
    audit.record(actor=officer, action="governance.export.requested", target=job)
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        path, _digest, size, counts = exports.write_archive(job, directory=Path(directory))
        elapsed = time.perf_counter() - start
        print(
            f"# export: {counts['messages']} messages, {counts['conversations']} conversations, "
            f"{size / 1e6:.1f} MB in {elapsed:.2f}s",
            file=sys.stderr,
        )
        from governance import archive

        archive.verify(path)
    return counts["messages"] / elapsed, counts["messages"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data")
    args = parser.parse_args()
    load_average = os.getloadavg()[0]
    print(f"# load average {load_average:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    n_messages, runs, baseline_runs = (100_000, 20, 3) if args.quick else (1_000_000, 40, 5)
    url = database_url(args.quick)
    ensure_database(url)
    count = message_count(url)
    if args.rebuild or count != n_messages:
        # Rebuilt from empty: a load that failed half-way leaves its users and contacts behind.
        drop_database(url)
        ensure_database(url)
        setup_django(url)
        start = time.perf_counter()
        load(n_messages)
        print(
            f"# loaded {n_messages} messages in {time.perf_counter() - start:.1f}s", file=sys.stderr
        )
    else:
        setup_django(url)
        print(f"# reusing {count} messages in {url.rsplit('/', 1)[1]}", file=sys.stderr)

    from comms.models import Conversation
    from governance.search import Criteria

    queries = {
        "rare": Criteria(q=RARE),
        "common": Criteria(q=COMMON),
        "none": Criteria(q=NONE),
        "two_words": Criteria(q=" ".join(PAIR)),
    }
    for name, criteria in queries.items():
        fts = measure(criteria, "fts", runs)
        slow = measure(criteria, "icontains", baseline_runs)
        if fts["shown"] != slow["shown"]:
            raise SystemExit(f"{name}: full-text and icontains found different messages")
        floor = measure(criteria, "oracle", runs, known=fts["ids"])
        print(
            f"# {name:9} fts p95 {fts['p95']:8.2f} ms (p50 {fts['p50']:.2f}; {fts['plan']},"
            f" {len(fts['shown'])} shown)  icontains p95 {slow['p95']:9.1f} ms"
            f"  x{slow['p95'] / fts['p95']:,.1f}",
            file=sys.stderr,
        )
        print(
            f"#   finding the ids alone: fts p95 {fts['ids_p95']:.2f} ms, icontains"
            f" {slow['ids_p95']:.2f} ms (x{slow['ids_p95'] / fts['ids_p95']:,.1f}). No search at"
            f" all (the ids by primary key, then the same loading): p95 {floor['p95']:.2f} ms,"
            f" ids {floor['ids_p95']:.2f} ms, so no engine can beat icontains by more than"
            f" x{slow['p95'] / floor['p95']:,.1f}"
            f" (ids alone x{slow['ids_p95'] / floor['ids_p95']:,.1f})",
            file=sys.stderr,
        )
        # value / baseline: the share of icontains' time full-text search takes.
        emit(BENCH, f"search_p95_ms_{name}", fts["p95"], "ms", n_messages, baseline=slow["p95"])
    contact_id = Conversation.objects.order_by("id").values_list("contact_id", flat=True).first()
    rate, exported = export_rate(contact_id)
    emit(BENCH, "export_messages_per_s", rate, "msg/s", exported, baseline=5000)


if __name__ == "__main__":
    main()
