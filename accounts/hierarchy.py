"""Reporting lines and team trees: subtree queries and cycle checks.

Subtrees use a recursive CTE (SQLite and PostgreSQL both run it), so one query answers at any depth.
UNION (not UNION ALL) stops at a row already seen, so even corrupt cyclic data cannot loop forever.
"""

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _


def _user_table() -> str:
    from accounts.models import User

    return connection.ops.quote_name(User._meta.db_table)


def subtree_ids_sql(root_id: int) -> RawSQL:
    """Ids of everyone reporting to root_id, directly or not (root excluded), as a subquery."""
    table = _user_table()
    return RawSQL(  # noqa: S611 - the only parameter is bound
        f"WITH RECURSIVE reports(id) AS ("  # noqa: S608 - table name from model meta, id is a param
        f" SELECT id FROM {table} WHERE manager_id = %s"
        f" UNION SELECT u.id FROM {table} u JOIN reports r ON u.manager_id = r.id"
        f") SELECT id FROM reports",
        (root_id,),
    )


def ancestor_ids(user_id: int) -> list[int]:
    """The manager chain above user_id, nearest first, in one query."""
    table = _user_table()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE chain(id, manager_id, lvl) AS ("  # noqa: S608
            f" SELECT id, manager_id, 0 FROM {table} WHERE id = %s"
            f" UNION SELECT u.id, u.manager_id, c.lvl + 1 FROM {table} u"
            f" JOIN chain c ON u.id = c.manager_id WHERE c.lvl < 1000"
            f") SELECT id FROM chain WHERE lvl > 0 ORDER BY lvl",
            [user_id],
        )
        return [row[0] for row in cursor.fetchall()]


def validate_manager(user, manager) -> None:
    if manager is None:
        return
    if user.pk is not None and manager.pk == user.pk:
        raise ValidationError({"manager": _("A person cannot be their own manager.")})
    if user.pk is not None and manager.pk is not None and user.pk in ancestor_ids(manager.pk):
        raise ValidationError(
            {
                "manager": _(
                    "%(manager)s already reports to %(user)s, directly or indirectly: "
                    "this would make a reporting loop."
                )
                % {"manager": manager, "user": user}
            }
        )


def validate_team_parent(team, parent) -> None:
    if parent is None:
        return
    # A live team never sits inside an archived one: archived teams take no sub-teams.
    if parent.archived_at is not None and team.archived_at is None:
        raise ValidationError(
            {"parent": _("%(parent)s is archived and takes no sub-teams.") % {"parent": parent}}
        )
    if team.pk is None:
        return
    if parent.pk == team.pk or (team.path and parent.path.startswith(team.path)):
        raise ValidationError(
            {"parent": _("A team cannot sit inside itself or inside one of its own sub-teams.")}
        )


def validate_team_membership(user, team) -> None:
    """An active person belongs to a live team: archived teams take no (active) members."""
    if team is not None and team.archived_at is not None and user.is_active:
        raise ValidationError(
            {
                "team": _(
                    "%(team)s is archived: choose a live team for an active person (or leave "
                    "them deactivated)."
                )
                % {"team": team}
            }
        )
