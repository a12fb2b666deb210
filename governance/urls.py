from django.urls import path

from config import ids  # noqa: F401  (registers <id:...>)
from governance import review_views, search_views, views
from governance.dsr import views as dsr_views

app_name = "governance"
urlpatterns = [
    path("", views.console_home, name="console"),
    path("holds/", views.hold_list, name="hold-list"),
    path("holds/<int:pk>/", views.hold_detail, name="hold-detail"),
    path("retention/", views.retention_page, name="retention"),
    path("dsr/", dsr_views.dsr_list, name="dsr-list"),
    path("dsr/new/", dsr_views.dsr_create, name="dsr-create"),
    path("dsr/<id:pk>/", dsr_views.dsr_detail, name="dsr-detail"),
    path("dsr/<id:pk>/export/", dsr_views.dsr_export, name="dsr-export"),
    path("dsr/<id:pk>/erase/", dsr_views.dsr_erase, name="dsr-erase"),
    path("dsr/<id:pk>/restrict/", dsr_views.dsr_restrict, name="dsr-restrict"),
    path("dsr/<id:pk>/refuse/", dsr_views.dsr_refuse, name="dsr-refuse"),
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
    path("review/", review_views.review_list, name="review-list"),
    path("review/<int:pk>/", review_views.review_detail, name="review-detail"),
    path("dlp/", review_views.dlp_policy_page, name="dlp-policy"),
    path("dlp/flags/", review_views.dlp_flags, name="dlp-flags"),
]
