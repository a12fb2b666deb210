from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts import forms, home_sections, permissions, roles, selectors, services


@login_required
def home(request):
    profile = selectors.user_profile_get(request.user.pk)
    return render(
        request,
        "accounts/home.html",
        {
            "profile": profile,
            # The signed-in person's roles, already read for this request (not a second lookup).
            "role_label": roles.label(permissions.primary_role(request.user)),
            "direct_reports": selectors.user_direct_reports(profile),
            "sections": home_sections.sections_for(request.user),
        },
    )


@login_required
def session_list(request):
    return render(
        request,
        "accounts/sessions.html",
        {
            "sessions": selectors.user_session_list_for(request.user),
            "current_key": request.session.session_key,
        },
    )


@login_required
@require_POST
def session_end(request, session_id: int):
    user_session = selectors.user_session_get_for(request.user, session_id)
    services.user_session_end(actor=request.user, user_session=user_session, request=request)
    if user_session.session_key == request.session.session_key:
        return redirect("accounts:login")
    messages.success(request, _("That session has been signed out."))
    return redirect("accounts:session-list")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password: every other session ends (and its sockets close); this browser
    stays signed in under a new session key."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:session-list")

    def form_valid(self, form):
        user = form.save(commit=False)
        services.user_password_save(actor=self.request.user, user=user, request=self.request)
        old_key = self.request.session.session_key
        update_session_auth_hash(self.request, user)
        services.user_session_rekey(old_key=old_key, new_key=self.request.session.session_key)
        messages.success(self.request, _("Your password has been changed."))
        return redirect(self.success_url)


@login_required
def token_list(request):
    secret = None
    if request.method == "POST":
        form = forms.ApiTokenForm(request.POST)
        if form.is_valid():
            _token, secret = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
                request=request,
            )
            form = forms.ApiTokenForm()
    else:
        form = forms.ApiTokenForm()
    response = render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "secret": secret, "tokens": selectors.api_token_list_for(request.user)},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = selectors.api_token_get_for(request.user, token_id)
    services.api_token_revoke(actor=request.user, token=token, request=request)
    messages.success(request, _("Token revoked."))
    return redirect("accounts:token-list")


@login_required
@require_POST
def language_set(request):
    """The footer's language selector for a signed-in person: the choice is kept on the person
    (followed on every browser they use) and, through Django's set_language, in this browser's
    cookie. "" goes back to following the browser's Accept-Language."""
    language = request.POST.get("language", "")
    services.user_language_set(
        actor=request.user, user=request.user, language=language, request=request
    )
    response = i18n.set_language(request)
    if not language:
        response.delete_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
        )
    return response
