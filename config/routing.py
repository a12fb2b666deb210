from accounts.routing import websocket_urlpatterns as accounts_ws
from comms.routing import websocket_urlpatterns as comms_ws

websocket_urlpatterns = [*accounts_ws, *comms_ws]
