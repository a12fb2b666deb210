"""The compliance console: compliance officers and admins open it; reps and managers get 404."""

import pytest


@pytest.mark.parametrize(
    "actor, status",
    [("rep", 404), ("other_rep", 404), ("manager", 404), ("compliance", 200), ("admin_user", 200)],
)
def test_console_permission_matrix(client, request, actor, status):
    client.force_login(request.getfixturevalue(actor))
    response = client.get("/compliance/")
    assert response.status_code == status
    if status == 200:
        assert b'href="/audit/"' in response.content


def test_console_link_in_navigation_only_for_those_who_may_open_it(client, rep, compliance):
    client.force_login(rep)
    assert b'href="/compliance/"' not in client.get("/").content
    client.force_login(compliance)
    assert b'href="/compliance/"' in client.get("/").content


def test_signed_out_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/compliance/")
    assert response.status_code == 302
    assert "/login" in response["Location"]
