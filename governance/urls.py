from django.urls import path

from governance import views

app_name = "governance"
urlpatterns = [
    path("", views.console_home, name="console"),
]

from config import ids  # noqa: E402,F401  (registers <id:...>)
from governance import search_views  # noqa: E402

urlpatterns += [
    path("search/", search_views.search_page, name="search"),
    path("search/messages/<id:pk>/", search_views.search_result, name="search-result"),
    path("search/saved/", search_views.saved_search_create, name="saved-search-list"),
    path(
        "search/saved/<id:pk>/delete/",
        search_views.saved_search_delete,
        name="saved-search-delete",
    ),
    path("exports/", search_views.export_list, name="export-list"),
    path("exports/<id:pk>/", search_views.export_detail, name="export-detail"),
    path("exports/<id:pk>/status/", search_views.export_status, name="export-status"),
    path("exports/<id:pk>/download/", search_views.export_download, name="export-download"),
]
