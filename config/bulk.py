"""Large id lists in queries.

`Model.objects.filter(pk__in=ids)` with thousands of ids puts one placeholder per id in the SQL:
Django builds them, psycopg rescans the statement for each, and PostgreSQL parses and plans an
IN list as long (an offboarding's 10,000 contacts: ~0.3 s in all). On PostgreSQL `ids_in` sends
the ids as one array parameter instead; elsewhere (SQLite) it is the plain list.
"""

from django.db import connections, router
from django.db.models.expressions import RawSQL

# Below this, an IN list costs less than the array's subquery.
_ARRAY_FROM = 200


def int_array(values) -> str:
    """The text of a PostgreSQL bigint[] literal (each value checked to be an integer)."""
    return "{" + ",".join(str(int(value)) for value in values) + "}"


def ids_in(model, ids):
    """A value for `<id field>__in=` that stays one parameter on PostgreSQL whatever the count.

    `model` names the database (the router's write database for it)."""
    ids = list(ids)
    if len(ids) < _ARRAY_FROM or connections[router.db_for_write(model)].vendor != "postgresql":
        return ids
    return RawSQL("SELECT unnest(%s::bigint[])", [int_array(ids)])  # noqa: S611 - no user text
