"""Access ends everywhere at once: every signed-in socket belongs to its browser session, and
any change that grants or ends access (sign-out, password, deactivation, role, team, manager)
reaches open sockets within seconds; an action in between is refused, never stored."""

import asyncio
import json
import uuid

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.test import Client

from accounts import offboarding, roles
from accounts import services as account_services
from accounts.models import ApiToken, UserSession
from audit.models import AuditEvent
from comms.models import Message
from config.asgi import application
from crm import services as crm_services
from crm.permissions import VIEW
from tests.comms.sockets import ORIGIN, closed_with, customer_socket, frame
from tests.factories import PASSWORD, TeamFactory, make_user

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

CLOSED = 4403
WITHIN = 5  # seconds: the bound for a socket to close after access ends


def cid() -> str:
    return str(uuid.uuid4())


def _sign_in(user) -> tuple[Client, bytes]:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client, f"sessionid={client.cookies['sessionid'].value}".encode()


async def sign_in(user) -> tuple[Client, bytes]:
    return await sync_to_async(_sign_in)(user)


async def open_socket(path: str, cookie: bytes, *, extra=()) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, path, [ORIGIN, (b"cookie", cookie), *extra])
    connected, code = await ws.connect()
    assert connected, code
    return ws


async def staff(cookie: bytes, conversation_id: int, **kwargs) -> WebsocketCommunicator:
    ws = await open_socket(f"/ws/conversations/{conversation_id}/", cookie, **kwargs)
    await frame(ws, "ready")
    return ws


async def still_open(ws, timeout: float = 0.5) -> bool:
    """Nothing but chatter for `timeout`: no closing frame and no close."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        if await ws.receive_nothing(timeout=remaining):
            return True
        output = await ws.receive_output()
        if output["type"] == "websocket.close":
            return False
        if json.loads(output.get("text") or "{}").get("type") == "closing":
            return False
    return True


async def messages() -> int:
    return await sync_to_async(Message.objects.count)()


def _role(user, role: str) -> None:
    user.refresh_from_db()
    account_services.user_save(actor=None, user=user, groups=[Group.objects.get(name=role)])


# --- the session: sign-out, "sign out that session", password, deactivation, expiry ---------------


async def test_sign_out_closes_every_socket_of_that_browser(rep, conversation):
    client, cookie = await sign_in(rep)
    chat = await staff(cookie, conversation.pk)
    inbox = await open_socket("/ws/inbox/", cookie)
    notes = await open_socket("/ws/notifications/", cookie)
    await frame(notes, "hello")
    _other_client, other_cookie = await sign_in(rep)
    other_chat = await staff(other_cookie, conversation.pk)

    await sync_to_async(client.post)("/logout/")

    assert (await closed_with(chat, CLOSED, timeout=WITHIN))["reason"] == "signed_out"
    await closed_with(inbox, CLOSED, timeout=WITHIN)
    await closed_with(notes, CLOSED, timeout=WITHIN)
    # The same person's other browser goes on.
    assert await still_open(other_chat)
    await other_chat.send_json_to({"action": "send", "client_id": cid(), "body": "still here"})
    assert (await frame(other_chat, "ack"))["duplicate"] is False
    await other_chat.disconnect()


async def test_an_action_after_the_session_ended_is_refused_even_if_the_close_was_lost(
    rep, conversation
):
    _client, cookie = await sign_in(rep)
    chat = await staff(cookie, conversation.pk)
    # The session ends with no broadcast at all (as if the close event were lost on the way).
    await sync_to_async(UserSession.objects.filter(user=rep).update)(ended_at="2026-01-01T00:00Z")

    await chat.send_json_to({"action": "send", "client_id": cid(), "body": "who am I?"})
    refused = await frame(chat, "error")
    assert refused["error"] == "access_changed"
    assert (await closed_with(chat, CLOSED, timeout=WITHIN))["reason"] == "signed_out"
    assert await messages() == 0


@pytest.mark.parametrize("action", ["typing", "read", "edit", "retract"])
async def test_every_action_is_refused_after_the_session_ended(rep, conversation, action):
    _client, cookie = await sign_in(rep)
    chat = await staff(cookie, conversation.pk)
    await chat.send_json_to({"action": "send", "client_id": cid(), "body": "first"})
    sent = await frame(chat, "ack")
    await sync_to_async(UserSession.objects.filter(user=rep).update)(ended_at="2026-01-01T00:00Z")

    await chat.send_json_to({"action": action, "message_id": sent["id"], "body": "changed"})
    assert (await frame(chat, "error"))["error"] == "access_changed"
    await closed_with(chat, CLOSED, timeout=WITHIN)
    message = await sync_to_async(Message.objects.get)(pk=sent["id"])
    assert message.body == "first" and not message.retracted


async def test_a_socket_without_a_live_session_is_refused(rep, conversation):
    _client, cookie = await sign_in(rep)
    await sync_to_async(UserSession.objects.filter(user=rep).update)(ended_at="2026-01-01T00:00Z")
    for path in (f"/ws/conversations/{conversation.pk}/", "/ws/inbox/", "/ws/notifications/"):
        ws = WebsocketCommunicator(application, path, [ORIGIN, (b"cookie", cookie)])
        connected, code = await ws.connect()
        assert not connected and code == 4401, path


async def test_signing_out_that_session_from_another_browser(rep, conversation):
    _lost_client, lost_cookie = await sign_in(rep)
    lost = await staff(lost_cookie, conversation.pk)
    here, here_cookie = await sign_in(rep)
    mine = await staff(here_cookie, conversation.pk)
    lost_session = await sync_to_async(
        lambda: UserSession.objects.filter(user=rep).order_by("pk").first()
    )()

    response = await sync_to_async(here.post)(f"/sessions/{lost_session.pk}/end/")
    assert response.status_code == 302
    await closed_with(lost, CLOSED, timeout=WITHIN)
    assert await still_open(mine)
    await mine.disconnect()


async def test_own_password_change_ends_the_other_sessions(rep, conversation):
    _elsewhere, elsewhere_cookie = await sign_in(rep)
    elsewhere = await staff(elsewhere_cookie, conversation.pk)
    here, here_cookie = await sign_in(rep)
    mine = await staff(here_cookie, conversation.pk)

    response = await sync_to_async(here.post)(
        "/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-longer-Secret-42",
            "new_password2": "a-much-longer-Secret-42",
        },
    )
    assert response.status_code == 302
    assert (await closed_with(elsewhere, CLOSED, timeout=WITHIN))["reason"] == "password_changed"
    # This browser stays signed in under a new session key; its old sockets close and the page
    # reconnects with the new cookie.
    await closed_with(mine, CLOSED, timeout=WITHIN)
    assert (await sync_to_async(here.get)("/")).status_code == 200
    fresh = await staff(f"sessionid={here.cookies['sessionid'].value}".encode(), conversation.pk)
    await fresh.send_json_to({"action": "send", "client_id": cid(), "body": "new password"})
    assert (await frame(fresh, "ack"))["duplicate"] is False
    await fresh.disconnect()
    # The other browser's cookie no longer works over HTTP either.
    assert (
        await sync_to_async(Client(HTTP_COOKIE=elsewhere_cookie.decode()).get)("/")
    ).status_code == 302


async def test_password_set_by_an_admin_closes_every_socket(rep, admin_user, conversation):
    _client, cookie = await sign_in(rep)
    chat = await staff(cookie, conversation.pk)
    admin_client, _ = await sign_in(admin_user)
    response = await sync_to_async(admin_client.post)(
        f"/admin/accounts/user/{rep.pk}/password/",
        {"password1": "Another-long-Secret-77", "password2": "Another-long-Secret-77"},
    )
    assert response.status_code == 302
    await closed_with(chat, CLOSED, timeout=WITHIN)
    assert await sync_to_async(UserSession.objects.filter(user=rep, ended_at=None).count)() == 0


async def test_deactivation_ends_sessions_and_tokens_for_good(rep, manager, conversation):
    client, cookie = await sign_in(rep)
    chat = await staff(cookie, conversation.pk)
    _token, secret = await sync_to_async(account_services.api_token_create)(user=rep, name="laptop")

    def deactivate(active: bool):
        rep.refresh_from_db()
        if not active:  # someone who holds records leaves by offboarding, never a bare switch
            offboarding.user_offboard(
                offboarding.offboarding_plan(actor=manager, leaver=rep, successor=manager)
            )
            return
        rep.is_active = active
        account_services.user_save(actor=None, user=rep)

    await sync_to_async(deactivate)(False)
    assert (await closed_with(chat, CLOSED, timeout=WITHIN))["reason"] == "deactivated"

    await sync_to_async(deactivate)(True)
    # Reactivated: the old cookie and the old token stay dead.
    assert (await sync_to_async(client.get)("/")).status_code == 302
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert (await sync_to_async(api.get)("/api/v1/contacts/")).status_code in (401, 403)
    assert await sync_to_async(ApiToken.objects.filter(revoked_at=None).count)() == 0
    assert (
        await sync_to_async(
            AuditEvent.objects.filter(action="accounts.api_token.revoked_all").count
        )()
        == 1
    )
    ws = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation.pk}/", [ORIGIN, (b"cookie", cookie)]
    )
    connected, code = await ws.connect()
    assert not connected and code == 4401


async def test_session_expiry_closes_the_socket(rep, conversation):
    client, cookie = await sign_in(rep)

    def expire_soon():
        session = client.session
        session.set_expiry(2)
        session.save()

    await sync_to_async(expire_soon)()
    chat = await staff(cookie, conversation.pk)
    assert await still_open(chat, 1)
    assert (await closed_with(chat, CLOSED, timeout=WITHIN))["reason"] == "session_expired"


# --- role, team and manager changes -------------------------------------------------------------


async def test_demoting_a_manager_closes_their_socket(manager, conversation):
    _client, cookie = await sign_in(manager)
    chat = await staff(cookie, conversation.pk)  # sees the rep's conversation as their manager
    await sync_to_async(_role)(manager, roles.REP)
    assert (await closed_with(chat, CLOSED, timeout=WITHIN))["reason"] == "access_revoked"


async def test_a_send_on_roles_made_stale_is_refused_never_stored(manager, conversation):
    _client, cookie = await sign_in(manager)
    chat = await staff(cookie, conversation.pk)

    def demote_quietly():  # no service, no recheck event: only the groups change
        manager.groups.set([Group.objects.get(name=roles.REP)])

    await sync_to_async(demote_quietly)()
    await chat.send_json_to({"action": "send", "client_id": cid(), "body": "as a manager?"})
    assert (await frame(chat, "error"))["error"] == "access_changed"
    assert (await closed_with(chat, CLOSED, timeout=WITHIN))["reason"] == "access_revoked"
    assert await messages() == 0


async def test_an_unrelated_role_change_only_refreshes_the_socket(rep, conversation):
    _client, cookie = await sign_in(rep)
    chat = await staff(cookie, conversation.pk)
    await sync_to_async(_role)(rep, roles.MANAGER)  # more rights, not fewer
    assert await still_open(chat)
    await chat.send_json_to({"action": "send", "client_id": cid(), "body": "promoted"})
    assert (await frame(chat, "ack"))["duplicate"] is False
    await chat.disconnect()


async def test_moving_a_rep_out_of_the_shared_team_closes_their_socket(
    rep, other_rep, team, deal, conversation
):
    await sync_to_async(crm_services.record_share)(actor=rep, record=deal, level=VIEW, team=team)
    _client, cookie = await sign_in(other_rep)
    chat = await staff(cookie, conversation.pk)  # sees it through the team share only

    def move():
        other_rep.refresh_from_db()
        other_rep.team = TeamFactory(name="Inside sales")
        account_services.user_save(actor=None, user=other_rep)

    await sync_to_async(move)()
    assert (await closed_with(chat, CLOSED, timeout=WITHIN))["reason"] == "access_revoked"


async def test_moving_a_rep_to_another_manager_closes_the_old_managers_socket(
    rep, manager, conversation
):
    _client, cookie = await sign_in(manager)
    old = await staff(cookie, conversation.pk)
    new_manager = await sync_to_async(make_user)(roles.MANAGER, username="new_manager")
    _new_client, new_cookie = await sign_in(new_manager)

    def move():
        rep.refresh_from_db()
        account_services.user_set_manager(actor=None, user=rep, manager=new_manager)

    await sync_to_async(move)()
    assert (await closed_with(old, CLOSED, timeout=WITHIN))["reason"] == "access_revoked"
    new = await staff(new_cookie, conversation.pk)
    await new.disconnect()


async def test_the_inbox_socket_follows_a_role_change(compliance, conversation):
    _client, cookie = await sign_in(compliance)
    inbox = await open_socket("/ws/inbox/", cookie)

    def change():
        _role(compliance, roles.REP)  # no longer sees every conversation
        from comms import realtime

        realtime.inbox_changed_on_commit(conversation.pk)

    await sync_to_async(change)()
    assert await inbox.receive_nothing(timeout=0.5)  # not told about a conversation it lost
    await inbox.disconnect()


# --- read receipts and the audit trail of socket actions ----------------------------------------


async def test_a_compliance_officers_reading_is_not_broadcast(
    rep, compliance, conversation, link_and_token
):
    _link, token = link_and_token
    _client, rep_cookie = await sign_in(rep)
    rep_chat = await staff(rep_cookie, conversation.pk)
    customer, ok, _ = await customer_socket(token)
    assert ok
    await frame(customer, "ready")
    await customer.send_json_to({"action": "send", "client_id": cid(), "body": "hello"})
    inbound = (await frame(customer, "ack"))["id"]

    _c, compliance_cookie = await sign_in(compliance)
    watcher = await staff(compliance_cookie, conversation.pk)
    await watcher.send_json_to({"action": "read", "message_id": inbound})
    await asyncio.sleep(0.3)
    for ws in (rep_chat, customer):
        frames = []
        while not await ws.receive_nothing(timeout=0.3):
            frames.append(await ws.receive_json_from())
        assert not [f for f in frames if f.get("type") == "read"], frames
    for ws in (rep_chat, customer, watcher):
        await ws.disconnect()


async def test_socket_actions_record_the_address_and_browser(rep, conversation):
    _client, cookie = await sign_in(rep)
    ws = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conversation.pk}/",
        [ORIGIN, (b"cookie", cookie), (b"user-agent", b"KeeplineTest/1.0")],
    )
    ws.scope["client"] = ("203.0.113.9", 50000)
    connected, _ = await ws.connect()
    assert connected
    await frame(ws, "ready")
    await ws.send_json_to({"action": "send", "client_id": cid(), "body": "recorded"})
    sent = await frame(ws, "ack")
    await ws.send_json_to({"action": "edit", "message_id": sent["id"], "body": "recorded!"})
    await frame(ws, "message.updated")
    await ws.disconnect()
    events = await sync_to_async(list)(
        AuditEvent.objects.filter(
            action__in=["comms.message.sent", "comms.message.edited"]
        ).values_list("ip", "user_agent")
    )
    assert events == [("203.0.113.9", "KeeplineTest/1.0")] * 2
