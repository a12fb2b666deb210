import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import verification


def read_checkpoint_file(path: str) -> list[dict]:
    """A file of checkpoints as printed by audit_checkpoint: one JSON object, or one per line."""
    text = Path(path).read_text()
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    for doc in documents:
        missing = {"seq", "head_hash", "time", "public_key", "signature"} - set(doc)
        if missing:
            raise CommandError(f"{path}: a checkpoint lacks {', '.join(sorted(missing))}")
    return documents


class Command(BaseCommand):
    help = (
        "Recompute the audit chain and check the signed checkpoints. Exit 0 when intact; exit 1 "
        "naming the first bad sequence number and the kind of damage."
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

    def handle(self, *args, from_seq, checkpoint, **options):
        documents = [doc for path in checkpoint for doc in read_checkpoint_file(path)]
        result = verification.verify(from_seq=from_seq, checkpoints=documents)
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if not result.ok:
            raise CommandError(f"audit ledger damaged at {result.damage}", returncode=1)
        self.stdout.write(result.summary())
