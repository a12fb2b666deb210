"""python manage.py offboard_user <username> --to <username> [--dry-run]

Moves the person's whole book to the successor and signs them out of everything, as the
offboarding page does, acting as the system's admin (--actor names another admin)."""

from django.core.management.base import BaseCommand, CommandError

from accounts import offboarding, permissions
from accounts.models import User
from config.errors import ServiceError


class Command(BaseCommand):
    help = "Offboard a person: their whole book moves to a successor; they are signed out."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--to", dest="successor", help="The successor's username.")
        parser.add_argument(
            "--queue", action="store_true", help="Send the book to the team's unassigned queue."
        )
        parser.add_argument("--actor", help="The admin acting (default: the first superuser).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would move.")

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return user

    def _actor(self, username: str | None) -> User:
        if username:
            actor = self._user(username)
        else:
            actor = User.objects.filter(is_superuser=True, is_active=True).order_by(
                "pk"
            ).first() or next(
                (u for u in User.objects.filter(is_active=True) if permissions.is_admin(u)),
                None,
            )
        if actor is None or not permissions.is_admin(actor):
            raise CommandError("Name an active admin with --actor.")
        return actor

    def handle(self, *args, **options):
        leaver = self._user(options["username"])
        if not options["successor"] and not options["queue"]:
            raise CommandError("Name a successor with --to <username>, or use --queue.")
        successor = self._user(options["successor"]) if options["successor"] else None
        actor = self._actor(options["actor"])
        try:
            handover = offboarding.offboarding_plan(
                actor=actor,
                leaver=leaver,
                mode="queue" if options["queue"] else "one",
                successor=successor,
            )
            if options["dry_run"]:
                preview = offboarding.user_offboard_preview(handover)
                self._counts("Would move", preview.counts)
                for row in preview.continuity:
                    self.stdout.write(
                        f"  continuity message to {row['customer']}"
                        f" (conversation {row['conversation']})"
                    )
                return
            row = offboarding.user_offboard(handover)
        except ServiceError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self._counts(
            f"Offboarded {leaver.username} (offboarding {row.pk}, {row.status})", row.counts
        )

    def _counts(self, title: str, counts: dict) -> None:
        self.stdout.write(title + ":")
        for key, value in counts.items():
            self.stdout.write(f"  {key}: {value}")
