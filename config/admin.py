from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.forms import SignInThrottleMixin


class KeeplineAdminLoginForm(SignInThrottleMixin, AdminAuthenticationForm):
    """Admin access follows the Admin role, not Django's is_staff flag. Failed sign-ins are
    throttled together with /login/'s (the same counters)."""

    def confirm_login_allowed(self, user):
        from accounts import permissions

        if not permissions.can_use_admin(user):
            raise forms.ValidationError(
                _("This account has no access to the administration site."), code="no_admin"
            )


class KeeplineAdminSite(admin.AdminSite):
    site_header = _("Keepline administration")
    site_title = _("Keepline admin")
    index_title = _("Organisation")
    login_form = KeeplineAdminLoginForm

    def has_permission(self, request):
        from accounts import permissions

        return permissions.can_use_admin(request.user)
