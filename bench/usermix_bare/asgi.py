"""The baseline app of bench/user_mix.py: the least stock Django + Channels do for the same mix.

Pages: the session row is read (database sessions, the same cookie), then 25 rows of a table are
rendered through a template: what a minimal signed-in Django list page does. A request without a
signed-in session is redirected like a login_required view. Sockets speak the subset of
Keepline's protocol the generator uses: `ready` on connect, `ack` for a send, the message
broadcast to the conversation's group (both sides) through the Redis pub/sub layer, reads
broadcast too. No database work on the socket: the framework's ceiling."""

import itertools
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.usermix_bare.settings")
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpResponseRedirect  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402

from bench.usermix_bare.models import Row  # noqa: E402

_ids = itertools.count(1)


def page(request, **kwargs):
    user_id = request.session.get("_auth_user_id")
    if user_id is None:
        return HttpResponseRedirect("/accounts/login/")
    rows = list(Row.objects.filter(owner_id=int(user_id)).order_by("-id")[:25])
    return render(request, "usermix_bare_page.html", {"title": request.path, "rows": rows})


urlpatterns = [
    path("", page),
    path("inbox/", page),
    path("deals/", page),
    path("deals/<int:pk>/", page),
    path("contacts/<int:pk>/", page),
]


class ChatConsumer(AsyncWebsocketConsumer):
    side = "user"

    async def connect(self):
        self.group = f"c{self.scope['url_route']['kwargs']['pk']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "ready", "seq": 0}))

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        content = json.loads(text_data)
        action = content.get("action")
        if action == "send":
            message = {
                "id": next(_ids),
                "client_id": content["client_id"],
                "body": content.get("body", ""),
                "author": {"type": self.side},
            }
            await self.send(
                text_data=json.dumps(
                    {"type": "ack", "client_id": message["client_id"], "id": message["id"]}
                )
            )
            frame = json.dumps({"type": "message.created", "message": message})
            await self.channel_layer.group_send(self.group, {"type": "chat.frame", "frame": frame})
        elif action == "read":
            frame = json.dumps(
                {
                    "type": "read",
                    "actor": {"type": self.side},
                    "message_id": content.get("message_id"),
                }
            )
            await self.channel_layer.group_send(self.group, {"type": "chat.frame", "frame": frame})

    async def chat_frame(self, event):
        await self.send(text_data=event["frame"])


class CustomerConsumer(ChatConsumer):
    side = "contact"


application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": URLRouter(
            [
                path("ws/conversations/<int:pk>/", ChatConsumer.as_asgi()),
                path("ws/chat/<int:pk>/", CustomerConsumer.as_asgi()),
            ]
        ),
    }
)
