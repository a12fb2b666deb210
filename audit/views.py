import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from audit import permissions, selectors
from audit.forms import EventFilterForm


@login_required
def event_list(request):
    permissions.require_view_ledger(request.user)
    form = EventFilterForm(request.GET or None)
    events, next_before, filters = [], None, {}
    if form.is_bound and not form.is_valid():
        events = []
    else:
        if form.is_bound:
            filters = form.filters()
            before = form.cleaned_data.get("before")
        else:
            before = None
        events, next_before = selectors.event_page_for(request.user, before=before, **filters)
    links = selectors.target_links_for(request.user, events)
    for event in events:
        event.target_link = links.get(event.seq)  # what it concerns, when the viewer may open it
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "audit/event_list.html",
        {
            "form": form,
            "events": events,
            "next_before": next_before,
            "filter_query": query.urlencode(),
            "is_first_page": not request.GET.get("before"),
        },
    )


@login_required
def event_detail(request, seq: int):
    event = selectors.event_get_for(request.user, seq)
    return render(
        request,
        "audit/event_detail.html",
        {
            "event": event,
            "data_json": json.dumps(event.data, indent=2, ensure_ascii=False, sort_keys=True),
            "changes": _changes(event.data),
            "checkpoint": selectors.checkpoint_covering(event),
            "link": selectors.target_links_for(request.user, [event]).get(event.seq),
        },
    )


def _changes(data) -> list[tuple[str, object, object]]:
    """[(field, before, after)] when data has the audit.changes shape, else []."""
    if not isinstance(data, dict) or not data:
        return []
    rows = []
    for key, value in data.items():
        if not (isinstance(value, dict) and set(value) == {"before", "after"}):
            return []
        rows.append((key, value["before"], value["after"]))
    return rows
