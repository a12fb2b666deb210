"""`python manage.py channel_simulator`: the provider simulator in the foreground, for the demo."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import threading

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.utils.translation import gettext as _

from connectors.simulator import ProviderSimulator, SimulatorSettings

USAGE = """
Runs a loopback stand-in for WhatsApp Cloud API and Twilio (and a customer who writes through
them). Point the channel accounts at it (GET /_sim/config on the simulator prints the values):
WhatsApp api_base_url and Twilio base_url = http://127.0.0.1:<port>, with the simulator's
phone_number_id, access token, app secret, account SID, auth token and numbers. Rep replies
sent through those accounts are accepted and listed here; customer messages are posted, signed,
to the Keepline at --target.

Type at the prompt (the customer's number and name come from the simulator's settings):
  <text>                           WhatsApp text from the customer
  wa [+12025550143] <text>         WhatsApp text (from another number)
  sms [+12025550143] <text>        SMS to the Twilio number
  email <subject> | <text>         email to the email account (raw MIME, shared secret)
  status <provider id> <state>     status callback: sent | delivered | read | failed
  sends                            list the sends the simulator accepted
  fail <http status> [count] [whatsapp|twilio]   fail the next provider calls (500, 429, 400)
  config                           the simulated accounts' settings
  help | quit

Other processes can drive it over HTTP: see the /_sim/ control API in connectors/simulator.py.
"""


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class Command(BaseCommand):
    help = (
        "Run the WhatsApp/Twilio provider simulator on loopback and type customer messages." + USAGE
    )
    requires_system_checks = []  # runs before the connectors models exist

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = _Formatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8900, help="loopback port (8900)")
        parser.add_argument(
            "--target",
            default="http://127.0.0.1:8000",
            help="Keepline base URL that receives the webhooks (http://127.0.0.1:8000)",
        )
        parser.add_argument(
            "--sms-account", default="1", help="SMS channel account id: /hooks/twilio/<id>/"
        )
        parser.add_argument(
            "--email-account", default="1", help="email channel account id: /hooks/email/<id>/"
        )
        parser.add_argument(
            "--no-auto-status",
            action="store_true",
            help="do not report accepted sends as sent, then delivered",
        )
        parser.add_argument(
            "--no-input", action="store_true", help="serve only; no prompt (Ctrl-C stops)"
        )

    def handle(self, *args, **options):
        settings = SimulatorSettings(
            sms_account_id=options["sms_account"], email_account_id=options["email_account"]
        )
        simulator = ProviderSimulator(
            port=options["port"],
            target=options["target"],
            settings=settings,
            auto_status=not options["no_auto_status"],
        )
        try:
            simulator.start()
        except OSError as error:
            raise CommandError(
                _("Cannot listen on port %(port)s: %(error)s")
                % {
                    "port": options["port"],
                    "error": error,
                }
            ) from error
        self.stdout.write(
            _("Provider simulator on %(url)s, delivering webhooks to %(target)s.")
            % {"url": simulator.base_url, "target": simulator.target}
        )
        try:
            if options["no_input"] or not sys.stdin.isatty():
                self.stdout.write(_("Serving; Ctrl-C stops."))
                threading.Event().wait()
            else:
                self.stdout.write(_("Type 'help' for commands."))
                self._prompt(simulator)
        except KeyboardInterrupt:
            pass
        finally:
            simulator.stop()
            self.stdout.write(_("Simulator stopped."))

    def _prompt(self, simulator: ProviderSimulator) -> None:
        while True:
            try:
                line = input("customer> ").strip()
            except EOFError:
                return
            if not line:
                continue
            if line in ("quit", "exit"):
                return
            try:
                self._run(simulator, line)
            except Exception as error:  # keep the prompt alive for the operator
                self.stderr.write(f"{type(error).__name__}: {error}")

    def _run(self, simulator: ProviderSimulator, line: str) -> None:
        word, _sep, rest = line.partition(" ")
        rest = rest.strip()
        if word == "help":
            self.stdout.write(USAGE)
        elif word == "config":
            settings = json.dumps(
                {**simulator.settings.__dict__, "base_url": simulator.base_url}, indent=2
            )
            self.stdout.write(settings)
        elif word == "sends":
            for sent in simulator.sends:
                label = sent.text or sent.template or ", ".join(sent.media)
                self.stdout.write(
                    f"{sent.at}  {sent.provider:8} {sent.provider_id}  "
                    f"-> {sent.to}  [{sent.type}] {label}"
                )
        elif word in ("wa", "sms"):
            number, text = _number_and_text(rest)
            if word == "wa":
                self._report(simulator.send_whatsapp(text, from_number=number))
            else:
                self._report(simulator.send_sms(text, from_number=number))
        elif word == "email":
            subject, _bar, text = rest.partition("|")
            self._report(simulator.send_email(text.strip(), subject=subject.strip() or "Hello"))
        elif word == "status":
            provider_id, _sp, state = rest.partition(" ")
            state = state.strip()
            sent = next((s for s in simulator.sends if s.provider_id == provider_id), None)
            if sent is not None and sent.provider == "twilio":
                self._report(
                    simulator.send_sms_status(
                        provider_id, state, url=sent.status_callback, to_number=sent.to
                    )
                )
            else:
                self._report(simulator.send_whatsapp_status(provider_id, state))
        elif word == "fail":
            parts = shlex.split(rest)
            status = int(parts[0]) if parts else 500
            count = int(parts[1]) if len(parts) > 1 else 1
            provider = parts[2] if len(parts) > 2 else ""
            retry_after = 2.0 if status == 429 else None
            simulator.fail_next(count, status=status, provider=provider, retry_after=retry_after)
            self.stdout.write(
                _("The next %(count)s call(s) answer %(status)s.")
                % {
                    "count": count,
                    "status": status,
                }
            )
        else:
            self._report(simulator.send_whatsapp(line))

    def _report(self, delivery) -> None:
        self.stdout.write(
            _("Keepline answered %(status)s for %(id)s")
            % {"status": delivery.status_code, "id": delivery.provider_id}
        )
        if delivery.status_code >= 300:
            self.stdout.write(delivery.body[:500])


def _number_and_text(rest: str) -> tuple[str, str]:
    first, _sep, remainder = rest.partition(" ")
    if first.startswith("+") and first[1:].isdigit():
        return first, remainder.strip()
    return "", rest
