from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import (
    cover_views,
    forms,
    offboarding_views,
    push_views,
    views,
    working_hours_views,
)

app_name = "accounts"
urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=forms.SignInForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("language/", views.language_set, name="language-set"),
    path("sessions/", views.session_list, name="session-list"),
    path("sessions/<int:session_id>/end/", views.session_end, name="session-end"),
    path("api-tokens/", views.token_list, name="token-list"),
    path("api-tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("people/", offboarding_views.people, name="people"),
    path("people/<int:user_id>/offboard/", offboarding_views.user_offboard, name="user-offboard"),
    path("cover/", cover_views.cover_page, name="cover"),
    path("push/subscription/", push_views.subscription, name="push-subscription"),
    path("working-hours/", working_hours_views.working_hours_page, name="working-hours"),
]
