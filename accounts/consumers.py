from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts import realtime

# 4401: not signed in; 4403: access withdrawn (session ended, user deactivated, share revoked).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """One socket per open tab; joins user.<id> so any app can notify or disconnect the person."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.joined = [realtime.user_group(user.pk)]
        session = self.scope.get("session")
        if session is not None and session.session_key:
            self.joined.append(realtime.session_group(session.session_key))
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user": user.pk})

    async def disconnect(self, code):
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "__malformed__":
            await self.send_json({"type": "error", "error": "malformed_json"})
        else:
            await self.send_json({"type": "error", "error": "unknown_action"})

    @classmethod
    async def decode_json(cls, text_data):
        import json

        try:
            return json.loads(text_data)
        except ValueError:
            return {"type": "__malformed__"}

    async def connection_close(self, event):
        await self.send_json({"type": "closing", "reason": event.get("reason", "revoked")})
        await self.close(code=CLOSE_REVOKED)

    async def notification_message(self, event):
        await self.send_json(event["payload"])
