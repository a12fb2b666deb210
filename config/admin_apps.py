from django.contrib.admin.apps import AdminConfig


class KeeplineAdminConfig(AdminConfig):
    default_site = "config.admin.KeeplineAdminSite"
