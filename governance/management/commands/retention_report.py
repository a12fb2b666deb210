"""python manage.py retention_report [--purge]: what is past retention (a dry run), or purge it."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from governance import retention


class Command(BaseCommand):
    help = (
        "Show, per record class, how many items are past retention and not on hold, how many are "
        "held and the oldest (changes nothing); with --purge, make them tombstones (audited)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--purge", action="store_true", help="purge what is due, as the nightly task does"
        )
        parser.add_argument("--now", help="ISO date and time to compute from (default: now)")

    def handle(self, *args, purge=False, now=None, **options):
        when = None
        if now:
            when = parse_datetime(now)
            if when is None:
                raise CommandError(f"--now: not an ISO date and time: {now!r}")
        report = retention.retention_purge(now=when, dry_run=not purge)
        self.stdout.write(
            f"{'Purge' if purge else 'Dry run'} at {report.now.isoformat()}"
            f"{'' if purge else ' (nothing changed)'}"
        )
        self.stdout.write(
            f"{'class':<22} {'period':>8} {'due':>8} {'held':>6} {'purged':>8}  oldest due"
        )
        for row in report.classes:
            period = f"{row.period_days}d" if row.period_days else "kept"
            oldest = row.oldest.isoformat() if row.oldest else "-"
            self.stdout.write(
                f"{row.record_class:<22} {period:>8} {row.due:>8} {row.held:>6}"
                f" {row.purged:>8}  {oldest}"
            )
        if purge:
            self.stdout.write(
                f"files of purged messages: {report.files_with_messages}, earlier versions:"
                f" {report.revisions}, refused for a hold placed meanwhile: {report.refused_held}"
            )
            if not report.complete:
                self.stdout.write("stopped at the time budget; the next run goes on")
        self.stdout.write(report.note)
