import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import verification_runs, witness
from audit.models import Verification


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
        run = verification_runs.verification_run(
            source=Verification.Source.COMMAND,
            from_seq=from_seq,
            checkpoint_documents=documents,
            witness_dirs=[Path(d) for d in witness_dir] or None,
            skip_records=skip_records,
        )
        if run.failed_check == Verification.Check.WITNESS:
            raise CommandError(run.first_problem, returncode=2)
        if run.witness_status == Verification.Witness.NONE and not documents:
            self.stderr.write(self.style.ERROR(NO_WITNESS))
        elif run.witness_status == Verification.Witness.EMPTY:
            self.stderr.write(
                self.style.WARNING(
                    "warning: the witness directories hold no checkpoint yet: nothing outside "
                    "the database was compared"
                )
            )
        for warning in run.warnings:
            self.stderr.write(f"warning: {warning}")
        if run.failed_check == Verification.Check.LEDGER:
            raise CommandError(run.first_problem, returncode=1)
        self.stdout.write(verification_runs.summary(run))
        if not skip_records:
            if run.failed_check == Verification.Check.RECORD:
                raise CommandError(run.first_problem, returncode=1)
            checked = ", ".join(f"{n} {what}" for what, n in sorted(run.records_checked.items()))
            self.stdout.write(f"record agrees with its events: {checked or 'nothing to check'}")
