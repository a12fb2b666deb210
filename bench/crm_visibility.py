"""CRM visibility on PostgreSQL: a rep's and a manager's contact list at 100k contacts.

The rep holds ~10k object permissions (plus team shares); the manager sees a reporting subtree.
Each figure is the server time (p95 over repeated runs) of the selector plus the evaluation of the
first page (25 rows with their prefetches), and its query count. The same permissions are also
written to guardian's generic tables, and the equivalent generic filter (guardian's own
get_objects_for_user on the generic tables, OR the owner/subtree rule) is the baseline.
Both are measured right after the bulk load, before ANALYZE of the permission tables (planner
statistics say they are empty), and again after ANALYZE; the two variants must return the same
rows.

Uses DATABASE_URL when it is PostgreSQL, else postgres://postgres@127.0.0.1:5432/keepline_bench
(created and migrated if needed). Only rows owned by the bench's own users (bench_*) are replaced.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keepline_bench"
BENCH = "crm_visibility"
PAGE = 25


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return DEFAULT_URL


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def people():
    """bench_rep (in bench team), bench_mgr with 4 leads x 5 reps under it, 35 others."""
    from django.contrib.auth.models import Group

    from accounts import roles, services
    from accounts.models import Team, User

    team = Team.objects.filter(name="bench-team").first() or Team(name="bench-team")
    team = services.team_save(team=team, parent=None)
    rep_group, mgr_group = Group.objects.get(name=roles.REP), Group.objects.get(name=roles.MANAGER)

    def user(name, manager=None, role=rep_group, in_team=False):
        u, _ = User.objects.update_or_create(
            username=name, defaults={"manager": manager, "team": team if in_team else None}
        )
        u.groups.add(role)
        return u

    rep = user("bench_rep", in_team=True)
    # guardian's generic filter counts the user's auth groups; our policy uses User.team.
    rep.groups.add(team.group)
    mgr = user("bench_mgr", role=mgr_group)
    owners = []
    for i in range(4):
        lead = user(f"bench_lead{i}", manager=mgr, role=mgr_group)
        owners.append(lead)
        owners += [user(f"bench_r{i}_{j}", manager=lead) for j in range(5)]
    owners += [user(f"bench_x{i}", in_team=(i < 5)) for i in range(35)]
    return team, rep, mgr, owners


def clear(bench_ids: list[int], group_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        # Fresh statistics first: with stale ones each deleted contact's foreign-key checks
        # would scan the permission tables instead of using their indexes.
        cur.execute("ANALYZE")
        owned = "SELECT id FROM crm_contact WHERE owner_id = ANY(%s)"
        for table in ("crm_contactuserobjectpermission", "crm_contactgroupobjectpermission"):
            cur.execute(f"DELETE FROM {table} WHERE content_object_id IN ({owned})", [bench_ids])
        cur.execute(
            "DELETE FROM guardian_userobjectpermission WHERE user_id = ANY(%s)", [bench_ids]
        )
        cur.execute("DELETE FROM guardian_groupobjectpermission WHERE group_id = %s", [group_id])
        for table in ("crm_contact_tags", "crm_contactemail", "crm_contactphone"):
            cur.execute(f"DELETE FROM {table} WHERE contact_id IN ({owned})", [bench_ids])
        cur.execute("DELETE FROM crm_contact WHERE owner_id = ANY(%s)", [bench_ids])
        # Statistics now describe the (nearly) empty tables the bulk load is about to fill.
        for table in TABLES:
            cur.execute(f"VACUUM ANALYZE {table}")


TABLES = (
    "crm_contact",
    "crm_contactuserobjectpermission",
    "crm_contactgroupobjectpermission",
    "guardian_userobjectpermission",
    "guardian_groupobjectpermission",
    "accounts_user",
)


def autovacuum(enabled: bool) -> None:
    """Keep autovacuum from analysing mid-run, so "before ANALYZE" means it."""
    from django.db import connection

    with connection.cursor() as cur:
        for table in TABLES[:-1]:
            cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = {str(enabled).lower()})")


def load(n_contacts: int, n_perms: int, n_team: int, rep, mgr, owners, team, rng) -> None:
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from crm.models import Contact, ContactGroupObjectPermission, ContactUserObjectPermission

    n_own = n_contacts // 100
    rows = []
    for i in range(n_contacts):
        owner = rep if i < n_own else owners[i % len(owners)]
        rows.append(
            Contact(
                first_name=f"G{rng.randrange(10**6):06d}",
                last_name=f"F{rng.randrange(10**6):06d}",
                owner=owner,
            )
        )
    contacts = Contact.objects.bulk_create(rows, batch_size=5000)
    # The contacts table is analysed (else every permission row's foreign-key check scans it,
    # and the load alone takes minutes); the permission tables stay as the empty-table
    # statistics describe them: that is the "right after a bulk load" case that hurt guardian.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE crm_contact")
    others = [c.pk for c in contacts[n_own:]]
    rng.shuffle(others)
    shared, team_shared = others[:n_perms], others[n_perms : n_perms + n_team]
    mgr_shared = others[n_perms + n_team : n_perms + n_team + 100]
    view = Permission.objects.get(content_type__app_label="crm", codename="view_contact")
    change = Permission.objects.get(content_type__app_label="crm", codename="change_contact")
    ctype = ContentType.objects.get_for_model(Contact)

    def perm(i):
        return view if i % 4 else change

    ContactUserObjectPermission.objects.bulk_create(
        [
            ContactUserObjectPermission(user=rep, permission=perm(i), content_object_id=pk)
            for i, pk in enumerate(shared)
        ]
        + [
            ContactUserObjectPermission(user=mgr, permission=view, content_object_id=pk)
            for pk in mgr_shared
        ],
        batch_size=5000,
    )
    ContactGroupObjectPermission.objects.bulk_create(
        [
            ContactGroupObjectPermission(group=team.group, permission=perm(i), content_object_id=pk)
            for i, pk in enumerate(team_shared)
        ],
        batch_size=5000,
    )
    UserObjectPermission.objects.bulk_create(
        [
            UserObjectPermission(user=rep, permission=perm(i), content_type=ctype, object_pk=pk)
            for i, pk in enumerate(shared)
        ]
        + [
            UserObjectPermission(user=mgr, permission=view, content_type=ctype, object_pk=pk)
            for pk in mgr_shared
        ],
        batch_size=5000,
    )
    GroupObjectPermission.objects.bulk_create(
        [
            GroupObjectPermission(
                group=team.group, permission=perm(i), content_type=ctype, object_pk=pk
            )
            for i, pk in enumerate(team_shared)
        ],
        batch_size=5000,
    )


USERS: dict[int, object] = {}


def _user(user_id: int, cached: bool):
    from accounts.models import User

    if not cached or user_id not in USERS:
        USERS[user_id] = User.objects.get(pk=user_id)
    return USERS[user_id]


def direct_first_page(user_id: int, *, filter_only: bool = False) -> list[int]:
    """What the contact list page does: the selector, then its first page. filter_only: just
    the visibility-filtered page query (user and role already loaded, no related rows)."""
    from crm import selectors

    user = _user(user_id, cached=filter_only)
    qs = selectors.contact_list_for(user).order_by("last_name", "first_name", "id")
    if filter_only:
        return list(qs.prefetch_related(None).values_list("pk", flat=True)[:PAGE])
    return [c.pk for c in qs[:PAGE]]


def generic_first_page(user_id: int, *, filter_only: bool = False) -> list[int]:
    """The same rule with guardian's generic tables (its own get_objects_for_user)."""
    from django.db.models import Q
    from guardian.shortcuts import get_objects_for_user

    from accounts import hierarchy
    from crm import permissions, selectors
    from crm.models import Contact, ContactGroupObjectPermission, ContactUserObjectPermission

    user = _user(user_id, cached=filter_only)
    ContactUserObjectPermission.enabled = False
    ContactGroupObjectPermission.enabled = False
    try:
        shared = get_objects_for_user(
            user,
            ["crm.view_contact", "crm.change_contact"],
            klass=Contact,
            any_perm=True,
            with_superuser=False,
            accept_global_perms=False,
        )
    finally:
        ContactUserObjectPermission.enabled = True
        ContactGroupObjectPermission.enabled = True
    rule = Q(owner_id=user.pk) | Q(pk__in=shared.values("pk"))
    if permissions.is_manager(user):
        rule |= Q(owner_id__in=hierarchy.subtree_ids_sql(user.pk))
    same_loading = selectors.contact_list_for(user)._prefetch_related_lookups
    qs = (
        Contact.objects.filter(rule, archived_at__isnull=True)
        .prefetch_related(*same_loading)
        .order_by("last_name", "first_name", "id")
    )
    if filter_only:
        return list(qs.prefetch_related(None).values_list("pk", flat=True)[:PAGE])
    return [c.pk for c in qs[:PAGE]]


def direct_filter(user_id: int) -> list[int]:
    return direct_first_page(user_id, filter_only=True)


def generic_filter(user_id: int) -> list[int]:
    return generic_first_page(user_id, filter_only=True)


def direct_count(user_id: int) -> int:
    """The list page's paginator count (reported on stderr, not a metric)."""
    from accounts.models import User
    from crm import selectors

    return selectors.contact_list_for(User.objects.get(pk=user_id)).count()


def measure(fn, user_id: int, runs: int) -> tuple[float, int, list[int]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn(user_id)  # warm: imports, connection, plan cache of the first call
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            ids = fn(user_id)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return p95, len(ctx.captured_queries), ids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_contacts, n_perms, n_team, runs, stale_runs = (
        (20_000, 2_000, 400, 15, 3) if args.quick else (100_000, 10_000, 2_000, 40, 5)
    )
    url = database_url()
    ensure_database(url)
    setup_django(url)
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("crm_visibility needs PostgreSQL")
    rng = random.Random(4)
    team, rep, mgr, owners = people()
    bench_ids = [rep.pk, mgr.pk, *(u.pk for u in owners)]
    clear(bench_ids, team.group_id)
    autovacuum(False)
    try:
        t0 = time.perf_counter()
        load(n_contacts, n_perms, n_team, rep, mgr, owners, team, rng)
        print(
            f"# loaded {n_contacts} contacts, {n_perms}+{n_team} rep permissions "
            f"in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
        results = {}
        for phase, n in (("stale", stale_runs), ("analyzed", runs)):
            if phase == "analyzed":
                with connection.cursor() as cur:
                    for table in TABLES:
                        cur.execute(f"ANALYZE {table}")
            for who, user in (("rep", rep), ("manager", mgr)):
                direct = measure(direct_first_page, user.pk, n)
                generic = measure(generic_first_page, user.pk, n)
                if direct[2] != generic[2]:
                    raise SystemExit(f"{who} ({phase}): direct and generic pages differ")
                if len(direct[2]) != PAGE:
                    raise SystemExit(f"{who} ({phase}): expected a full first page")
                results[(phase, who)] = (direct, generic)
                counted = measure(direct_count, user.pk, n)
                USERS.clear()
                d_filter = measure(direct_filter, user.pk, n)
                g_filter = measure(generic_filter, user.pk, n)
                if d_filter[2] != g_filter[2]:
                    raise SystemExit(f"{who} ({phase}): direct and generic filters differ")
                results[(phase, who, "filter")] = (d_filter, g_filter)
                print(
                    f"# {phase:8} {who:7} direct p95 {direct[0]:8.1f} ms ({direct[1]} queries)"
                    f"  generic p95 {generic[0]:8.1f} ms ({generic[1]} queries)"
                    f"  count p95 {counted[0]:6.1f} ms ({counted[2]} rows)"
                    f"  filter-only p95 {d_filter[0]:.1f} vs {g_filter[0]:.1f} ms",
                    file=sys.stderr,
                )
    finally:
        autovacuum(True)
    for who in ("rep", "manager"):
        direct, generic = results[("analyzed", who)]
        emit(BENCH, f"{who}_list_p95_ms", direct[0], "ms", n_contacts, baseline=generic[0])
        emit(BENCH, f"{who}_list_queries", direct[1], "queries", n_contacts, baseline=generic[1])
    for who in ("rep", "manager"):
        direct, generic = results[("stale", who)]
        emit(BENCH, f"{who}_list_stale_p95_ms", direct[0], "ms", n_contacts, baseline=generic[0])
    # The visibility-filtered page query alone (what the permission tables decide), fresh and
    # right after the bulk load.
    for phase, suffix in (("analyzed", ""), ("stale", "_stale")):
        for who in ("rep", "manager"):
            direct, generic = results[(phase, who, "filter")]
            emit(
                BENCH,
                f"{who}_filter{suffix}_p95_ms",
                direct[0],
                "ms",
                n_contacts,
                baseline=generic[0],
            )


if __name__ == "__main__":
    main()
