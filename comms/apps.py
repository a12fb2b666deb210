from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "comms"

    def ready(self):
        from django.db.models.signals import post_migrate

        from accounts import book
        from audit import record_checks
        from comms import ddl, integrity, permissions, receivers  # noqa: F401 (receivers connect)
        from comms.book import CommsBook

        book.register_book_part(CommsBook())

        record_checks.register(integrity.check_messages)
        record_checks.register(integrity.check_files)
        from audit import selectors as audit_selectors
        from comms import audit_links

        audit_selectors.register_target_links("comms.conversation", audit_links.conversations)
        audit_selectors.register_target_links("comms.message", audit_links.messages)
        audit_selectors.register_target_links("comms.attachment", audit_links.files)
        from audit import labels
        from comms import audit_labels

        labels.register_action_labels(audit_labels.LABELS)

        # The home page (accounts.home_sections): unread conversations, then those waiting a reply.
        from accounts import home_sections
        from comms import selectors

        home_sections.register_section(
            "comms.unread", template="comms/_home_unread.html", build=selectors.unread_for, order=10
        )
        home_sections.register_section(
            "comms.waiting",
            template="comms/_home_waiting.html",
            build=selectors.waiting_for_reply_for,
            order=20,
        )
        # People pickers (accounts.people_search): whom assign and member fields offer.
        from comms import pickers

        pickers.register()

        post_migrate.connect(
            permissions.forget_write_checks, dispatch_uid="comms.forget_write_checks"
        )
        post_migrate.connect(ddl.ensure_sqlite_guards, sender=self, dispatch_uid="comms.ddl")
