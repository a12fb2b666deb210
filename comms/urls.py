app_name = "comms"
urlpatterns: list = []
