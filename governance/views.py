from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from governance import console, permissions


@login_required
def console_home(request):
    permissions.require_console(request.user)
    return render(request, "governance/console.html", {"sections": console.SECTIONS})
