"""The offboarding page: choose successors, preview, confirm (accounts.offboarding)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def user_offboard(request, user_id):
    return HttpResponse(status=501)
