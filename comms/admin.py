"""Read-only admin views: conversations are changed through the services, never here."""

from django.contrib import admin

from comms.models import Conversation, CustomerLink, Message


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "status", "subject", "assignee", "last_message_at")
    list_filter = ("kind", "status")


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "conversation", "direction", "created_at", "retracted")
    list_filter = ("direction", "retracted")


@admin.register(CustomerLink)
class CustomerLinkAdmin(ReadOnlyAdmin):
    list_display = ("id", "conversation", "contact", "expires_at", "revoked_at")
