"""Console pages of the message search and the exports (compliance officers and admins; 404 for
everyone else, through the selectors and services)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from governance import exports, permissions, search
from governance.search_forms import SaveSearchForm, SearchForm


def _invalid(request, form):
    error = {"code": "invalid", "messages": [form.first_error()]}
    return render(request, "error.html", {"error": error}, status=400)


def _query(criteria: search.Criteria) -> str:
    return urlencode(criteria.params())


@login_required
@require_GET
def search_page(request):
    permissions.require_console(request.user)
    form = SearchForm(request.GET or None, user=request.user)
    page, status = None, 200
    if form.is_bound:
        if form.is_valid():
            page = search.message_search_for(
                request.user,
                form.criteria(),
                before=form.cleaned_data.get("before"),
                request=request,
            )
        else:
            status = 400
    return render(
        request,
        "governance/search.html",
        {
            "form": form,
            "page": page,
            "query": _query(page.criteria) if page else "",
            "saved": search.saved_search_list_for(request.user),
            "is_first_page": not request.GET.get("before"),
        },
        status=status,
    )


@login_required
@require_GET
def search_result(request, pk: int):
    message = search.message_result_get_for(request.user, pk, request=request)
    return render(request, "governance/search_result.html", {"message": message})


@login_required
@require_POST
def saved_search_create(request):
    permissions.require_console(request.user)
    form = SaveSearchForm(request.POST, user=request.user)
    if not form.is_valid():
        return _invalid(request, form)
    criteria = form.criteria()
    search.saved_search_create(
        owner=request.user, name=form.cleaned_data["name"], criteria=criteria, request=request
    )
    return redirect(f"{reverse('governance:search')}?{_query(criteria)}")


@login_required
@require_POST
def saved_search_delete(request, pk: int):
    search.saved_search_delete(owner=request.user, saved_id=pk, request=request)
    return redirect("governance:search")


@login_required
@require_http_methods(["GET", "POST"])
def export_list(request):
    permissions.require_console(request.user)
    if request.method == "POST":
        form = SearchForm(request.POST, user=request.user)
        if not form.is_valid():
            return _invalid(request, form)
        job = exports.export_request(
            requester=request.user, criteria=form.criteria(), request=request
        )
        return redirect("governance:export-detail", pk=job.pk)
    return render(
        request, "governance/export_list.html", {"jobs": exports.export_list_for(request.user)}
    )


@login_required
@require_GET
def export_detail(request, pk: int):
    job = exports.export_get_for(request.user, pk)
    return render(
        request,
        "governance/export_detail.html",
        {
            "job": job,
            "can_download": permissions.can_download_export(request.user, job),
            "search_query": urlencode(job.params),
        },
    )


def status_document(job) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "sha256": job.sha256,
        "size": job.size,
        "error": job.error,
    }


@login_required
@require_GET
def export_status(request, pk: int):
    """The progress bar's poll (static/js/export_progress.js): small, never cached."""
    job = exports.export_get_for(request.user, pk)
    response = JsonResponse(status_document(job))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def export_download(request, pk: int):
    job = exports.export_download(user=request.user, job_id=pk, request=request)
    try:
        handle = open(job.file_path, "rb")  # noqa: SIM115 - FileResponse closes it
    except OSError:
        raise Http404 from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"keepline-export-{job.pk}.zip",
        content_type="application/zip",
    )
