from django.urls import path

from crm import views

app_name = "crm"
KIND = "<str:kind>"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("companies/", views.company_list, name="company-list"),
    path("companies/new/", views.record_form, {"kind": "companies"}, name="company-create"),
    path("companies/<int:company_id>/", views.company_detail, name="company-detail"),
    path(
        "companies/<int:record_id>/edit/",
        views.record_form,
        {"kind": "companies"},
        name="company-edit",
    ),
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/new/", views.record_form, {"kind": "contacts"}, name="contact-create"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact-detail"),
    path(
        "contacts/<int:record_id>/edit/",
        views.record_form,
        {"kind": "contacts"},
        name="contact-edit",
    ),
    path("contacts/<int:contact_id>/consent/", views.contact_consent, name="contact-consent"),
    path("deals/", views.deal_list, name="deal-list"),
    path("deals/board/", views.deal_board, name="deal-board"),
    path("deals/new/", views.record_form, {"kind": "deals"}, name="deal-create"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal-detail"),
    path("deals/<int:record_id>/edit/", views.record_form, {"kind": "deals"}, name="deal-edit"),
    path("deals/<int:deal_id>/move/", views.deal_move, name="deal-move"),
    path("activities/<int:activity_id>/done/", views.activity_done, name="activity-done"),
    path(f"{KIND}/<int:record_id>/activities/", views.activity_create, name="activity-create"),
    path(f"{KIND}/<int:record_id>/share/", views.record_share, name="record-share"),
    path(f"{KIND}/<int:record_id>/unshare/", views.record_unshare, name="record-unshare"),
    path(f"{KIND}/<int:record_id>/archive/", views.record_archive, name="record-archive"),
    path(f"{KIND}/<int:record_id>/restore/", views.record_restore, name="record-restore"),
    path(f"{KIND}/import/", views.csv_import, name="csv-import"),
    path(f"{KIND}/export.csv", views.csv_export, name="csv-export"),
]
