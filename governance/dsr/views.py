"""Pages of data-subject requests in the compliance console: the list (overdue first), the form
logging a new one, a request with its actions and outcome, and the access export (a JSON download
or a readable page). Everyone but compliance officers and admins gets 404."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from config.errors import ServiceError
from governance import permissions
from governance.dsr import selectors, services
from governance.dsr.forms import BasisForm, DsrCreateForm, RefuseForm

PAGE_SIZE = 50


def console_only(methods):
    """Signed in, then the console's policy (404 for anyone else, whatever the method), then the
    allowed methods (405)."""

    def wrap(view):
        @login_required
        @wraps(view)
        def inner(request, *args, **kwargs):
            permissions.require_handle_dsr(request.user)
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            return view(request, *args, **kwargs)

        return inner

    return wrap


@console_only(["GET"])
def dsr_list(request):
    requests = selectors.dsr_list_for(request.user)
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(r, r.is_overdue(now), r.is_due_soon(now)) for r in page]
    return render(request, "governance/dsr_list.html", {"page": page, "rows": rows})


@console_only(["GET", "POST"])
def dsr_create(request):
    query = (request.GET.get("q") or "").strip()[:200]
    form = DsrCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                contact = selectors.contact_get_for(request.user, data["contact"])
            except Http404:
                form.add_error("contact", _("Find the person and choose them in the list."))
            else:
                try:
                    dsr = services.dsr_create(
                        actor=request.user,
                        contact=contact,
                        kind=data["kind"],
                        law=data["law"],
                        channel=data["channel"],
                        subject_reference=data["subject_reference"],
                        details=data["details"],
                        received_at=data["received_at"],
                        request=request,
                    )
                except ServiceError as exc:
                    for name, errors in exc.fields.items():
                        for error in errors:
                            form.add_error(name if name in form.fields else None, error)
                    if not exc.fields:
                        form.add_error(None, exc.detail)
                else:
                    messages.success(
                        request,
                        _("Request logged; the answer is due %(due)s.")
                        % {"due": timezone.localtime(dsr.due_at).strftime("%Y-%m-%d")},
                    )
                    return redirect(dsr.get_absolute_url())
    found = selectors.contact_search_for(request.user, query) if query else []
    return render(
        request,
        "governance/dsr_form.html",
        {"form": form, "query": query, "found": found},
        status=status,
    )


def _detail(request, dsr, *, status=200, error=None, refuse_form=None, basis_form=None):
    events = AuditEvent.objects.filter(
        target_type="governance.datasubjectrequest", target_id=str(dsr.pk)
    ).order_by("seq")
    now = timezone.now()
    return render(
        request,
        "governance/dsr_detail.html",
        {
            "dsr": dsr,
            "contact": dsr.contact,
            "overdue": dsr.is_overdue(now),
            "due_soon": dsr.is_due_soon(now),
            "events": events,
            "error": error,
            "refuse_form": refuse_form or RefuseForm(),
            "basis_form": basis_form or BasisForm(),
        },
        status=status,
    )


@console_only(["GET"])
def dsr_detail(request, pk):
    return _detail(request, selectors.dsr_get_for(request.user, pk))


@console_only(["POST"])
def dsr_export(request, pk):
    """POST, not GET: an export is an audited act that may answer the request."""
    dsr = selectors.dsr_get_for(request.user, pk)
    fmt = request.POST.get("format", "json")
    try:
        export = services.dsr_access_export(actor=request.user, dsr=dsr, fmt=fmt, request=request)
    except ServiceError as exc:
        return _detail(request, dsr, status=exc.status, error=exc.detail)
    if fmt == "html":
        return render(
            request,
            "governance/dsr_export.html",
            {"dsr": export.request, "data": export.data, "sha256": export.sha256},
        )
    response = HttpResponse(export.text, content_type="application/json; charset=utf-8")
    name = f"data-subject-request-{dsr.pk}-contact-{dsr.contact_id}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@console_only(["POST"])
def dsr_erase(request, pk):
    dsr = selectors.dsr_get_for(request.user, pk)
    try:
        outcome = services.dsr_erase(actor=request.user, dsr=dsr, request=request)
    except ServiceError as exc:
        return _detail(request, dsr, status=exc.status, error=exc.detail)
    if outcome.erased:
        messages.success(request, _("The contact's data was erased."))
    else:
        messages.warning(
            request,
            _("Erasure refused: %(reasons)s Processing is restricted instead.")
            % {"reasons": " ".join(outcome.reasons)},
        )
    return redirect(dsr.get_absolute_url())


@console_only(["POST"])
def dsr_restrict(request, pk):
    dsr = selectors.dsr_get_for(request.user, pk)
    form = BasisForm(request.POST)
    if not form.is_valid():
        return _detail(request, dsr, status=400, basis_form=form)
    try:
        services.dsr_restrict(
            actor=request.user, dsr=dsr, basis=form.cleaned_data["basis"], request=request
        )
    except ServiceError as exc:
        return _detail(request, dsr, status=exc.status, error=exc.detail, basis_form=form)
    messages.success(request, _("Processing of the contact's data is restricted."))
    return redirect(dsr.get_absolute_url())


@console_only(["POST"])
def dsr_refuse(request, pk):
    dsr = selectors.dsr_get_for(request.user, pk)
    form = RefuseForm(request.POST)
    if not form.is_valid():
        return _detail(request, dsr, status=400, refuse_form=form)
    try:
        services.dsr_refuse(actor=request.user, dsr=dsr, request=request, **form.cleaned_data)
    except ServiceError as exc:
        return _detail(request, dsr, status=exc.status, error=exc.detail, refuse_form=form)
    messages.success(request, _("The request was refused."))
    return redirect(dsr.get_absolute_url())
