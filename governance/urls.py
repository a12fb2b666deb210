from django.urls import path

from governance import views

app_name = "governance"
urlpatterns = [
    path("", views.console_home, name="console"),
    path("holds/", views.hold_list, name="hold-list"),
    path("holds/<int:pk>/", views.hold_detail, name="hold-detail"),
    path("retention/", views.retention_page, name="retention"),
]
