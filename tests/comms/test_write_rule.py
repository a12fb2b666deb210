"""The write rule is defined once (comms.permissions.write_q). The send path runs it compiled to
SQL inside its conditional UPDATE (write_check_sql); this proves the compiled form and the rule
give the same answer for every case of the visibility matrix."""

import pytest
from django.db import connection

from accounts import roles
from comms import permissions, services
from comms.models import Conversation
from crm import services as crm_services
from crm.permissions import VIEW
from tests.crm.factories import ContactFactory
from tests.factories import TeamFactory, make_user

pytestmark = pytest.mark.django_db


def compiled_allows(user, conversation) -> bool:
    check = permissions.write_check_sql(user, conversation.pk)
    if check is None:
        return False
    sql, params = check
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 WHERE %s IN ({sql})", [conversation.pk, *params])  # noqa: S608
        return cursor.fetchone() is not None


@pytest.fixture
def matrix(rep, other_rep, manager, director, compliance, admin_user, conversation, team):
    """People in every position towards two conversations: rep's customer chat and rep's
    internal team chat."""
    elsewhere = TeamFactory(name="Inside sales")  # the deal is shared with this team
    partners = TeamFactory(name="Partners")
    people = {
        "assignee": rep,
        "teammate without a share": other_rep,
        "manager": manager,
        "manager's manager": director,
        "manager elsewhere": make_user(roles.MANAGER, team=partners),
        "compliance": compliance,
        "admin": admin_user,
        "inactive": make_user(roles.REP, team=team, is_active=False),
        "shared the contact": make_user(roles.REP, team=partners),
        "shared the deal by team": make_user(roles.REP, team=elsewhere),
        "member of the internal chat": make_user(roles.REP, team=partners),
        "left the internal chat": make_user(roles.REP, team=partners),
        "owns another contact": make_user(roles.REP, team=partners),
    }
    ContactFactory(owner=people["owns another contact"])
    crm_services.record_share(
        actor=rep, record=conversation.contact, level=VIEW, user=people["shared the contact"]
    )
    crm_services.record_share(actor=rep, record=conversation.deal, level=VIEW, team=elsewhere)
    internal = services.internal_conversation_create(
        actor=rep,
        subject="Team chat",
        members=[people["member of the internal chat"], people["left the internal chat"]],
    )
    services.member_remove(actor=rep, conversation=internal, user=people["left the internal chat"])
    return people, {"customer": conversation, "internal": internal}


def test_the_compiled_write_check_agrees_with_the_rule_for_every_case(matrix):
    people, conversations = matrix
    answers = {}
    for who, user in people.items():
        for kind, conversation in conversations.items():
            conversation = Conversation.objects.get(pk=conversation.pk)
            rule = permissions.can_send(user, conversation)
            assert compiled_allows(user, conversation) == rule, (who, kind)
            answers[(who, kind)] = rule
    # The matrix has both answers in it, where a reader of the policy expects them.
    assert answers[("assignee", "customer")] and answers[("manager's manager", "internal")]
    assert answers[("shared the contact", "customer")]
    assert answers[("shared the deal by team", "customer")]
    assert not answers[("shared the contact", "internal")]
    assert not answers[("compliance", "customer")] and answers[("admin", "internal")]
    assert not answers[("inactive", "customer")]
    assert not answers[("left the internal chat", "internal")]
    assert answers[("member of the internal chat", "internal")]
    assert not answers[("teammate without a share", "customer")]
    assert not answers[("manager elsewhere", "customer")]
    assert not answers[("owns another contact", "customer")]
