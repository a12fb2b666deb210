from django.urls import path

from comms.consumers import ConversationConsumer, CustomerChatConsumer
from comms.inbox_consumer import InboxConsumer

websocket_urlpatterns = [
    path("ws/conversations/<int:conversation_id>/", ConversationConsumer.as_asgi()),
    path("ws/chat/<str:token>/", CustomerChatConsumer.as_asgi()),
    path("ws/inbox/", InboxConsumer.as_asgi()),
]
