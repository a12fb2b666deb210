import json

from django.core.management.base import BaseCommand, CommandError

from audit import services, witness


class Command(BaseCommand):
    help = (
        "Sign a checkpoint of the audit chain's head, copy it to the witness directories "
        "(AUDIT_WITNESS_DIRS) and print it as one JSON line (a file of such lines can be passed "
        "to verify_audit --checkpoint)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help=(
                "skip the look at the latest checkpoint and sign the head; one checkpoint per "
                "head and key is kept, so an existing one is printed instead"
            ),
        )

    def handle(self, *args, force=False, **options):
        checkpoint = services.checkpoint_create(force=force)
        if checkpoint is None:
            raise CommandError("the audit ledger is empty: nothing to checkpoint")
        try:
            services.checkpoint_witness(checkpoint)
        except witness.WitnessError as error:
            raise CommandError(f"checkpoint {checkpoint.seq} not witnessed: {error}") from None
        self.stdout.write(json.dumps(services.checkpoint_document(checkpoint), sort_keys=True))
