import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import record_checks, verification, witness


def read_checkpoint_file(path: str) -> list[dict]:
    """A file of checkpoints as printed by audit_checkpoint: one JSON object, or one per line."""
    text = Path(path).read_text()
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    for doc in documents:
        if lacks := witness.missing_fields(doc):
            raise CommandError(f"{path}: a checkpoint lacks {lacks}")
    return documents


NO_WITNESS = (
    "WARNING: no audit witness is configured (AUDIT_WITNESS_DIRS) and no checkpoint file was "
    "given. This check compared the ledger only with checkpoints stored in the same database: "
    "whoever controls the database could have deleted the newest events, or rewritten the chain "
    "and its checkpoints, and it would still pass. Keep a witness on another machine "
    '(docs/operations.md, "Audit witnesses").'
)


class Command(BaseCommand):
    help = (
        "Recompute the audit chain and check the signed checkpoints, those in the database and "
        "those the witnesses keep, then the messages, their earlier versions and files against "
        "the digests their events hold. Exit 0 when intact; exit 1 naming the first bad sequence "
        "number and the kind of damage, or the first record that differs; exit 2 when a witness "
        "cannot be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_seq", type=int, default=1, metavar="SEQ")
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="FILE",
            help="checkpoint file kept outside the database (repeatable)",
        )
        parser.add_argument(
            "--witness",
            dest="witness_dir",
            action="append",
            default=[],
            metavar="DIR",
            help="a witness directory (repeatable; default: AUDIT_WITNESS_DIRS)",
        )
        parser.add_argument(
            "--skip-records",
            action="store_true",
            help=(
                "check the ledger only, not the messages, revisions and files against the "
                "digests their events hold"
            ),
        )

    def handle(self, *args, from_seq, checkpoint, witness_dir, skip_records, **options):
        documents = [doc for path in checkpoint for doc in read_checkpoint_file(path)]
        directories = [Path(d) for d in witness_dir] or witness.directories()
        try:
            witnessed = witness.documents(directories)
        except witness.WitnessError as error:
            raise CommandError(f"a witness cannot be read: {error}", returncode=2) from None
        if not directories and not documents:
            self.stderr.write(self.style.ERROR(NO_WITNESS))
        elif directories and not witnessed:
            self.stderr.write(
                self.style.WARNING(
                    "warning: the witness directories hold no checkpoint yet: nothing outside "
                    "the database was compared"
                )
            )
        result = verification.verify(from_seq=from_seq, checkpoints=documents + witnessed)
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if not result.ok:
            raise CommandError(f"audit ledger damaged at {result.damage}", returncode=1)
        self.stdout.write(result.summary())
        if not skip_records:
            mismatch, tally = record_checks.run()
            if mismatch is not None:
                raise CommandError(f"record damaged: {mismatch}", returncode=1)
            checked = ", ".join(f"{n} {what}" for what, n in sorted(tally.items()))
            self.stdout.write(f"record agrees with its events: {checked or 'nothing to check'}")
