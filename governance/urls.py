from django.urls import path

from governance import views

app_name = "governance"
urlpatterns = [
    path("", views.console_home, name="console"),
    path("review/", views.review_list, name="review-list"),
    path("review/<int:pk>/", views.review_detail, name="review-detail"),
    path("dlp/", views.dlp_policy_page, name="dlp-policy"),
    path("dlp/flags/", views.dlp_flags, name="dlp-flags"),
]
