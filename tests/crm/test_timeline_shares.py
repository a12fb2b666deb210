"""Issue 9: a deal's timeline tells who it is shared with only to those who may manage its
sharing, the people who see the share panel (permissions.can_share)."""

import pytest

from crm import permissions, services, timeline
from tests.crm.factories import DealFactory


@pytest.fixture
def shared_deal(rep, other_rep, outsider, team):
    """rep's deal, shared with rep's team to change (so other_rep sees it without being able to
    share it), then shared with the outsider and taken back."""
    deal = DealFactory(owner=rep, title="Shared renewal")
    services.record_share(actor=rep, record=deal, team=team, level="change")
    services.record_share(actor=rep, record=deal, user=outsider, level="view")
    services.record_unshare(actor=rep, record=deal, user=outsider)
    services.deal_update(actor=rep, deal=deal, title="Shared renewal 2")
    return deal


SHARE_TEXTS = ("shared the deal with", "stopped sharing the deal with")


@pytest.mark.parametrize(
    "role, sees_shares",
    [
        ("rep", True),  # the owner
        ("manager", True),  # above the owner
        ("admin_user", True),
        ("other_rep", False),  # the deal is shared with their team, to change
        ("compliance", False),  # reads everything, manages no sharing
    ],
)
def test_share_entries_only_for_those_who_see_the_share_panel(
    request, client, shared_deal, role, sees_shares
):
    user = request.getfixturevalue(role)
    assert permissions.can_share(user, shared_deal) is sees_shares
    client.force_login(user)
    page = client.get(shared_deal.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert ('data-testid="share-panel"' in html) is sees_shares
    for text in SHARE_TEXTS:
        assert (text in html) is sees_shares, text
    # The rest of the timeline is everyone's.
    assert "updated the deal" in html


def test_deal_timeline_filters_share_entries_by_viewer(shared_deal, rep, other_rep):
    kinds_for_rep = {e.kind for e in timeline.deal_timeline(shared_deal, [], viewer=rep)}
    kinds_for_other = {e.kind for e in timeline.deal_timeline(shared_deal, [], viewer=other_rep)}
    assert {"shared", "unshared"} <= kinds_for_rep
    assert not {"shared", "unshared"} & kinds_for_other
    assert "updated" in kinds_for_other
