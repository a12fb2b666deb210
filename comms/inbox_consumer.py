"""/ws/inbox/: tells an open inbox page that a conversation it may show has new activity.

Services publish `inbox.changed` with only the conversation id to one group; each socket passes on
the ids its person may see (checked once per id, then remembered), so the send path costs no query
per viewer and no one learns of a conversation they cannot open.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.consumers import CLOSE_UNAUTHENTICATED, SessionBound
from comms import permissions, realtime, selectors

MAX_REMEMBERED = 5000


class InboxConsumer(SessionBound, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(self._load)(user):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.visible: dict[int, bool] = {}
        self.groups_joined = [realtime.INBOX_GROUP, *self.binding_groups()]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.expiry_start()

    def _load(self, user) -> bool:
        if not self.bind(user):
            return False
        self.sees_all = permissions.sees_everything(user)
        return True

    async def disconnect(self, code):
        self.expiry_stop()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "pong"})

    @classmethod
    async def decode_json(cls, text_data):
        return {}

    async def inbox_changed(self, event):
        cid = event["conversation_id"]
        if not self.sees_all:
            if cid not in self.visible:
                if len(self.visible) > MAX_REMEMBERED:
                    self.visible.clear()
                self.visible[cid] = await database_sync_to_async(selectors.conversation_is_visible)(
                    self.user, cid
                )
            if not self.visible[cid]:
                return
        await self.send_json({"type": "inbox.changed", "conversation_id": cid})

    async def layer_down(self, event):
        """The channel layer is away (config.channel_layer): changes may go unannounced."""

    async def layer_up(self, event):
        """Back: whatever changed meanwhile was not announced, so the page reloads its list."""
        await self.send_json({"type": "inbox.changed", "conversation_id": None})

    async def access_recheck(self, event):
        # Shares, assignments, roles or the session changed: read the person afresh and forget
        # what was learnt about visibility.
        self.visible.clear()
        if event.get("conversation_ids") is not None:
            return
        state = await database_sync_to_async(self._reload)()
        if state is None:
            await self.binding_lost("signed_out")
            return
        self.user, self.sees_all = state

    def _reload(self):
        user = self.binding_reload()
        return None if user is None else (user, permissions.sees_everything(user))

    async def connection_close(self, event):
        await self.binding_lost(event.get("reason", "revoked"))

    async def notification_message(self, event):
        await self.send_json(event["payload"])
