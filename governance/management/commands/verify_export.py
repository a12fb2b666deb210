from django.core.management.base import BaseCommand, CommandError

from governance import archive


class Command(BaseCommand):
    help = (
        "Check a compliance export offline: every file's SHA-256 against manifest.json, no file "
        "missing or added, every audit event against its chain hash, and the signature of the "
        "audit checkpoint it holds. Exit 0 when intact; exit 1 naming the first problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("zip", help="the export's zip file")
        parser.add_argument(
            "--public-key",
            metavar="HEX",
            help="require the checkpoint to be signed by this Ed25519 public key (hex)",
        )
        parser.add_argument(
            "--sha256",
            metavar="HEX",
            help="require the zip itself to have this SHA-256 (as shown on the export's page)",
        )

    def handle(self, *args, zip, public_key, sha256, **options):
        try:
            manifest = archive.verify(zip, public_key=public_key, sha256=sha256)
        except archive.Problem as problem:
            raise CommandError(f"{zip}: {problem}", returncode=1) from None
        counts = manifest.get("counts", {})
        checkpoint = manifest["checkpoint"]
        self.stdout.write(
            f"OK: {len(manifest['files'])} files match the manifest "
            f"({counts.get('conversations', 0)} conversations, {counts.get('messages', 0)} "
            f"messages, {counts.get('audit_events', 0)} audit events); audit checkpoint "
            f"#{checkpoint['seq']} signed by {checkpoint['public_key']}"
        )
