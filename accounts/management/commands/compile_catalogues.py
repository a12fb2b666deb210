"""Compile the translation catalogues (locale/*/LC_MESSAGES/*.po) into the .mo files Django reads.

Django's own compilemessages needs GNU gettext's msgfmt, which a fresh laptop often lacks; polib
writes the same files in pure Python, so `make run` and `make test` show Spanish and Portuguese on
any machine. Fuzzy and empty entries are left out, as msgfmt does. A catalogue whose .mo is newer
than its .po is skipped.
"""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


def stale_catalogues() -> list[Path]:
    found = []
    for root in settings.LOCALE_PATHS:
        for po_path in sorted(Path(root).glob("*/LC_MESSAGES/*.po")):
            mo_path = po_path.with_suffix(".mo")
            if not mo_path.exists() or mo_path.stat().st_mtime < po_path.stat().st_mtime:
                found.append(po_path)
    return found


def compile_catalogues() -> list[Path]:
    compiled = stale_catalogues()
    for po_path in compiled:
        polib.pofile(str(po_path)).save_as_mofile(str(po_path.with_suffix(".mo")))
    return compiled


class Command(BaseCommand):
    help = "Compile the translation catalogues into .mo files (no GNU gettext needed)."

    def handle(self, *args, **options):
        for po_path in compile_catalogues():
            self.stdout.write(f"compiled {po_path}")
