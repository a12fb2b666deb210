"""connectors.mail: raw MIME in, plain data out; replies out as Django EmailMessages.

The samples in mail_samples/ are shaped like what Gmail, Outlook, Apple Mail and webmails send.
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail as django_mail

from connectors import mail
from connectors.mail import MailError, OutgoingAttachment

SAMPLES = Path(__file__).parent / "mail_samples"


def sample(name: str) -> mail.ParsedEmail:
    return mail.parse((SAMPLES / name).read_bytes())


# --- parse: real-world shapes -----------------------------------------------------------------


def test_gmail_reply_headers_and_bodies():
    parsed = sample("gmail_reply.eml")
    assert parsed.from_address == "carlos.pereira@gmail.com"  # lower-cased
    assert parsed.from_name == "Carlos Pereira"
    assert [a.email for a in parsed.to] == ["ana@keepline.example"]
    assert parsed.cc == (mail.Address("finance@customer.example", "Finance"),)
    assert parsed.subject == "Re: Quote for 20 seats"
    assert parsed.date == datetime(2025, 3, 3, 15, 20, 1, tzinfo=UTC)
    assert parsed.message_id == "<CAJx9wQ+reply7788@mail.gmail.com>"
    assert parsed.in_reply_to == ("<kl.18f2.ab12cd@keepline.example>",)
    assert parsed.references == (
        "<CAFirst0001@mail.gmail.com>",
        "<kl.18f2.ab12cd@keepline.example>",
    )
    # multipart/alternative: the text body is the text/plain part (quoted-printable, UTF-8)
    assert parsed.text.startswith("Hi Ana,\n\nSounds good — Tuesday at 10 works for me.")
    assert "> Can we meet on Tuesday" in parsed.text  # the record keeps the full original
    assert "Sounds good — Tuesday" in parsed.html
    assert "style=" not in parsed.html and "class=" not in parsed.html
    assert parsed.attachments == ()
    assert not parsed.auto_submitted


def test_gmail_reply_visible_part_drops_wrapped_attribution_and_quote():
    text = sample("gmail_reply.eml").text
    assert mail.visible_reply(text) == (
        "Hi Ana,\n\nSounds good — Tuesday at 10 works for me. I'll bring the signed order form."
        "\n\nThanks!\nCarlos"
    )


def test_outlook_reply_windows_1252_and_header_block():
    parsed = sample("outlook_reply.eml")
    assert parsed.from_address == "mark.jones@contoso.example"
    assert "We’re fine with the price – please send the contract." in parsed.text
    assert "(€ 4.800)" in parsed.text
    assert "<style" not in parsed.html and "P {margin-top" not in parsed.html
    assert mail.visible_reply(parsed.text) == (
        "Hi Ana,\n\nWe’re fine with the price – please send the contract.\n\nRegards,\nMark"
    )


def test_apple_mail_text_parts_around_an_inline_image():
    parsed = sample("apple_mail.eml")
    assert parsed.from_name == "José García"
    assert parsed.text.startswith(
        "Here is the photo of the damaged unit:\n\nCan someone come on Thursday?"
    )
    [image] = parsed.attachments
    assert image.filename == "IMG_0042.png"
    assert image.content_type == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert image.sha256 == hashlib.sha256(image.content).hexdigest()
    assert image.inline and image.content_id == "<3F1A9C2E-0001@icloud.example>"
    assert mail.visible_reply(parsed.text) == (
        "Here is the photo of the damaged unit:\n\nCan someone come on Thursday?"
    )


def test_spanish_reply_base64_and_encoded_subject():
    parsed = sample("spanish_reply.eml")
    assert parsed.subject == "Re: Cotización para 20 licencias"
    assert parsed.from_name == "Lucía Fernández"
    assert mail.visible_reply(parsed.text) == "Perfecto, nos vemos el martes.\n\nSaludos,\nLucía"


def test_portuguese_reply_latin1_quoted_printable():
    parsed = sample("portuguese_reply.eml")
    assert parsed.from_name == "João Conceição"
    assert parsed.subject == "Re: Proposta comercial"
    assert "Abraço,\nJoão" in parsed.text
    assert mail.visible_reply(parsed.text) == "Combinado, pode enviar o contrato.\n\nAbraço,\nJoão"


def test_html_only_message_is_sanitised_and_gets_a_text_body():
    parsed = sample("html_only_script.eml")
    html = parsed.html
    for forbidden in (
        "<script",
        "alert",
        "onclick",
        "onload",
        "onmouseover",
        "javascript:",
        "<style",
        "<iframe",
        "<form",
        "<input",
        "http://shady.example",  # tracker pixel, background image: gone
        "https://shady.example",  # frame, form action: gone
    ):
        assert forbidden not in html.lower(), forbidden
    assert '<img src="cid:logo@shady.example" alt="Logo">' in html  # images from the message
    assert 'href="https://pay.example/invoice/42"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<b>Ana</b>" in html and "<table>" in html
    assert parsed.text.startswith("Hello Ana,\n\nPlease see the invoice below.")
    assert "Total € 120,00" in parsed.text
    assert "alert" not in parsed.text and "document.location" not in parsed.text
    assert "> Previous message" in parsed.text  # blockquotes become quoted lines
    assert "Previous message" not in mail.visible_reply(parsed.text)


def test_sanitize_html_remote_images_only_when_allowed():
    html = '<p>x</p><img src="https://cdn.example/a.png" alt="a"><img src="http://cdn.example/b">'
    assert "<img" not in mail.sanitize_html(html)
    allowed = mail.sanitize_html(html, allow_remote_images=True)
    assert '<img src="https://cdn.example/a.png" alt="a">' in allowed
    assert "http://cdn.example/b" not in allowed  # never plain http


def test_multipart_alternative_prefers_plain_and_keeps_html_and_flags_bulk():
    parsed = sample("newsletter_alternative.eml")
    assert parsed.subject == "Novidades de março ✨"
    assert parsed.text == "Plain version: novidades de março."
    assert parsed.html == "<p>HTML version: <i>novidades de março</i>.</p>"
    assert parsed.auto_submitted  # Precedence: bulk


def test_attachments_with_non_ascii_filenames_and_inline_image():
    parsed = sample("attachment_non_ascii.eml")
    assert parsed.subject == "Cotação assinada"
    assert parsed.text == "Segue a cotação assinada."
    assert '<img src="cid:sig-logo@customer.example" alt="logo">' in parsed.html
    by_type = {a.content_type: a for a in parsed.attachments}
    assert set(by_type) == {"image/png", "application/pdf", "text/csv", "application/octet-stream"}
    logo = by_type["image/png"]
    assert logo.inline and logo.content_id == "<sig-logo@customer.example>"
    assert logo.filename == "attachment-1.png"
    pdf = by_type["application/pdf"]
    assert pdf.filename == "Cotação nº 42.pdf"  # RFC 2231
    assert pdf.content.startswith(b"%PDF-1.4") and not pdf.inline
    assert pdf.sha256 == hashlib.sha256(pdf.content).hexdigest()
    csv = by_type["text/csv"]
    assert csv.filename == "preços_€.csv"  # RFC 2047 in the parameter (Outlook)
    assert csv.content.decode() == "item;preço\r\nlicença;100"
    assert by_type["application/octet-stream"].filename == "passwd"  # no path survives


def test_latin1_8bit_body_with_windows_1252_euro():
    parsed = sample("latin1_body.eml")
    assert parsed.text == "Olá, a reunião é às 15h. Preço: 100 € — ok?"


def test_utf8_declared_as_latin1_is_read_as_utf8():
    raw = (
        b"From: a@example.com\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Açaí e pão".encode()
    )
    assert mail.parse(raw).text == "Açaí e pão"


def test_unknown_charset_and_no_charset():
    raw = (
        b"From: a@example.com\r\nContent-Type: text/plain; charset=x-klingon\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "olá".encode()
    )
    assert mail.parse(raw).text == "olá"
    raw = b"From: a@example.com\r\n\r\nplain \xe9t\xe9\r\n"  # no MIME at all, Latin-1 bytes
    assert mail.parse(raw).text == "plain été"


def test_message_without_message_id_gets_a_stable_one():
    raw = b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
    first, again = mail.parse(raw), mail.parse(raw)
    assert first.message_id == again.message_id
    assert first.message_id.endswith("@message-id.invalid>")
    assert mail.parse(raw + b"!").message_id != first.message_id


def test_subject_newlines_from_encoded_words_are_flattened():
    raw = b"From: a@example.com\r\nSubject: =?utf-8?q?one=0D=0ABcc:_x@evil.example?=\r\n\r\nhi"
    assert mail.parse(raw).subject == "one Bcc: x@evil.example"


def test_naive_and_broken_dates():
    raw = b"From: a@example.com\r\nDate: Mon, 3 Mar 2025 10:00:00\r\n\r\nx"
    assert mail.parse(raw).date == datetime(2025, 3, 3, 10, tzinfo=UTC)
    raw = b"From: a@example.com\r\nDate: yesterday-ish\r\n\r\nx"
    assert mail.parse(raw).date is None
    raw = b"From: a@example.com\r\nDate: Mon, 3 Mar 2025 10:00:00 -0300\r\n\r\nx"
    assert mail.parse(raw).date.utcoffset() == timedelta(hours=-3)


def test_auto_reply_headers():
    raw = b"From: a@example.com\r\nAuto-Submitted: auto-replied\r\n\r\nOut of office"
    assert mail.parse(raw).auto_submitted
    raw = b"From: a@example.com\r\nAuto-Submitted: no\r\n\r\nHello"
    assert not mail.parse(raw).auto_submitted


def test_forwarded_message_attachment_is_kept_whole():
    raw = (
        b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee below\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: c@example.com\r\nSubject: inner\r\n\r\ninner body\r\n"
        b"--b--\r\n"
    )
    parsed = mail.parse(raw)
    assert parsed.text == "See below"
    [eml] = parsed.attachments
    assert eml.content_type == "message/rfc822" and eml.filename == "attachment-1.eml"
    assert b"Subject: inner" in eml.content and b"inner body" in eml.content


# --- parse: bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n\r\n",
        (SAMPLES / "garbage.bin").read_bytes(),
        (SAMPLES / "missing_from.eml").read_bytes(),
        b'{"not": "an email"}',
        b"just some text\nwith lines\n",
        b"From: \r\nSubject: empty from\r\n\r\nbody",
        b"From: Someone <not an address>\r\n\r\nbody",
        b"From: undisclosed-recipients:;\r\n\r\nbody",
        b"\x00\x01\x02From: a@example.com\r\n\r\nbody",
    ],
    ids=[
        "empty",
        "blank",
        "garbage",
        "missing-from",
        "json",
        "plain-text",
        "empty-from",
        "invalid-from",
        "group-from",
        "binary-prefix",
    ],
)
def test_unusable_input_raises_mail_error(raw):
    with pytest.raises(MailError) as excinfo:
        mail.parse(raw)
    assert str(excinfo.value)  # a message the endpoint can answer 400 with


def test_non_bytes_input_raises_mail_error():
    with pytest.raises(MailError):
        mail.parse("From: a@example.com\r\n\r\nx")  # type: ignore[arg-type]
    assert mail.parse(bytearray(b"From: a@example.com\r\n\r\nx")).text == "x"


# --- visible_reply ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "visible"),
    [
        ("Thanks!\n\nOn Mon, Mar 3, 2025 at 10:14 AM Ana <a@x.example> wrote:\n> hi\n", "Thanks!"),
        ("Yes.\n\nOn 3 Mar 2025, at 10:14, Ana <a@x.example> wrote:\n\n> hi", "Yes."),
        ("Sí.\n\nEl lun, 3 mar 2025 a las 10:14, Ana (<a@x.example>) escribió:\n> hola", "Sí."),
        ("Sim.\n\nEm seg., 3 de mar. de 2025 às 10:14, Ana <a@x.example> escreveu:\n> oi", "Sim."),
        ("Oui.\n\nLe lun. 3 mars 2025 à 10:14, Ana <a@x.example> a écrit :\n> salut", "Oui."),
        ("Ja.\n\nAm Mo., 3. März 2025 um 10:14 Uhr schrieb Ana <a@x.example>:\n> hallo", "Ja."),
        ("Ok will do\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nhello", "Ok will do"),
        (
            "Fine.\n\nFrom: Ana Souza <a@x.example>\nSent: Monday, March 3, 2025 10:14 AM\n"
            "To: Bob <b@x.example>\nSubject: Quote\n\nOriginal text",
            "Fine.",
        ),
        (
            "Vale.\n\nDe: Ana Souza <a@x.example>\nEnviado: lunes, 3 de marzo de 2025 10:14\n"
            "Para: Bob\nAsunto: Cotización\n\nTexto original",
            "Vale.",
        ),
        ("Got it.\n-- \nBob Smith\nACME Corp | +1 555 0100", "Got it."),
        ("Got it.\n--\nBob Smith", "Got it."),
        ("Thanks!\n\nSent from my iPhone", "Thanks!"),
        ("Gracias\n\nEnviado desde mi iPhone", "Gracias"),
        ("Obrigado\n\nEnviado do meu iPhone", "Obrigado"),
        ("Thanks\n\nGet Outlook for Android", "Thanks"),
        ("> quoted question?\n\nMy answer at the bottom.", "My answer at the bottom."),
        ("Line one\r\nLine two\r\n\r\n> quoted\r\n", "Line one\nLine two"),
    ],
)
def test_visible_reply(text, visible):
    assert mail.visible_reply(text) == visible


def test_visible_reply_keeps_interleaved_answers_with_their_questions():
    text = (
        "See answers inline.\n\n"
        "On Mon, Mar 3, 2025 at 10:14 AM Ana <a@x.example> wrote:\n"
        "> Which plan do you want?\n"
        "Business.\n"
        "> How many seats?\n"
        "Twenty.\n"
    )
    visible = mail.visible_reply(text)
    assert "Business." in visible and "Twenty." in visible
    assert "> How many seats?" in visible


@pytest.mark.parametrize(
    "text",
    [
        "> only a quote",
        "On Mon, Mar 3, 2025 at 10:14 AM Ana <a@x.example> wrote:\n> hi",
        "-- \nsignature only",
        "Sent from my iPhone",
    ],
)
def test_visible_reply_never_empty_for_a_non_empty_message(text):
    assert mail.visible_reply(text) == text.strip()


def test_visible_reply_keeps_ordinary_text():
    text = "We spoke on Monday, and she wrote: the price is fine.\nFrom: the sales desk\nOk?"
    assert mail.visible_reply(text) == text
    assert mail.visible_reply("") == ""
    assert mail.visible_reply("  \n ") == ""


# --- threading --------------------------------------------------------------------------------


def test_thread_keys_in_reply_to_first_then_references_newest_first():
    raw = (
        b"From: a@example.com\r\n"
        b"In-Reply-To: <c@x.example>\r\n"
        b"References: <a@x.example>\r\n <b@x.example>\r\n\t<c@x.example>\r\n\r\nbody"
    )
    assert mail.thread_keys(mail.parse(raw)) == ["<c@x.example>", "<b@x.example>", "<a@x.example>"]


def test_thread_keys_tolerate_missing_brackets_and_junk():
    raw = b"From: a@example.com\r\nIn-Reply-To: abc@x.example (Ana's message)\r\n\r\nbody"
    assert mail.thread_keys(mail.parse(raw)) == ["<abc@x.example>"]
    raw = b"From: a@example.com\r\nReferences: \r\n\r\nbody"
    assert mail.thread_keys(mail.parse(raw)) == []


def test_new_message_id_is_unique_and_on_the_domain():
    ids = {mail.new_message_id("keepline.example") for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"<[0-9a-f]+\.[0-9a-f]{24}@keepline\.example>", i) for i in ids)
    assert mail.new_message_id("sales@Keepline.Example").endswith("@keepline.example>")
    assert mail.new_message_id("bücher.example").endswith("@xn--bcher-kva.example>")
    for bad in ("", "a b", "<x>"):
        with pytest.raises(MailError):
            mail.new_message_id(bad)


# --- build_reply ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Quote for 20 seats", "Re: Quote for 20 seats"),
        ("Re: Quote", "Re: Quote"),
        ("RE: Re: re:Quote", "Re: Quote"),
        ("AW: Angebot", "Re: Angebot"),
        ("RES: Proposta", "Re: Proposta"),
        ("RV: Cotización", "Re: Cotización"),
        ("Re[2]: Quote", "Re: Quote"),
        ("Regarding the quote", "Re: Regarding the quote"),
        ("", "Re: (no subject)"),
        ("Fwd: Quote", "Re: Fwd: Quote"),
    ],
)
def test_reply_subject_not_doubled(subject, expected):
    assert mail.reply_subject(subject) == expected


def test_build_reply_headers_round_trip_through_parse():
    customer = sample("gmail_reply.eml")
    stored_thread = ["<kl.18f2.ab12cd@keepline.example>"]  # what we sent before
    outgoing = mail.build_reply(
        from_address="Ventas@Keepline.Example",
        from_name="Ana Souza (Keepline)",
        to=customer.from_address,
        subject=customer.subject,
        body="Great, see you Tuesday.\n\nAna",
        html="<p>Great, see you <b>Tuesday</b>.</p>",
        in_reply_to=customer.message_id,
        references=[*customer.references, *stored_thread],
        attachments=[
            OutgoingAttachment("Contrato nº 7.pdf", b"%PDF-1.4 contract", "application/pdf"),
            ("notes.txt", b"seats: 20", "text/plain"),
        ],
    )
    assert isinstance(outgoing, django_mail.EmailMultiAlternatives)
    our_id = outgoing.extra_headers["Message-ID"]
    assert our_id.endswith("@keepline.example>")

    parsed = mail.parse(outgoing.message().as_bytes())
    assert parsed.from_address == "ventas@keepline.example"
    assert parsed.from_name == "Ana Souza (Keepline)"
    assert [a.email for a in parsed.to] == ["carlos.pereira@gmail.com"]
    assert parsed.subject == "Re: Quote for 20 seats"
    assert parsed.message_id == our_id
    assert parsed.in_reply_to == ("<CAJx9wQ+reply7788@mail.gmail.com>",)
    assert parsed.references == (
        "<CAFirst0001@mail.gmail.com>",
        "<kl.18f2.ab12cd@keepline.example>",
        "<CAJx9wQ+reply7788@mail.gmail.com>",
    )
    assert parsed.text == "Great, see you Tuesday.\n\nAna"
    assert parsed.html == "<p>Great, see you <b>Tuesday</b>.</p>"
    assert {(a.filename, a.content) for a in parsed.attachments} == {
        ("Contrato nº 7.pdf", b"%PDF-1.4 contract"),
        ("notes.txt", b"seats: 20"),
    }
    assert parsed.date is not None
    # the customer's next answer to it threads back to this conversation
    answer = mail.parse(
        f"From: carlos.pereira@gmail.com\r\nIn-Reply-To: {our_id}\r\n"
        f"References: {' '.join(parsed.references)} {our_id}\r\n\r\nOk".encode()
    )
    assert mail.thread_keys(answer)[0] == our_id
    assert "<kl.18f2.ab12cd@keepline.example>" in mail.thread_keys(answer)


def test_build_reply_sends_through_the_django_backend():
    outgoing = mail.build_reply(
        from_address="ventas@keepline.example",
        to=["lucia@empresa.example"],
        subject="Re: Re: Cotización",
        body="Hola",
        message_id="<fixed.1@keepline.example>",
    )
    assert outgoing.send() == 1
    [sent] = django_mail.outbox
    assert sent.subject == "Re: Cotización"
    message = sent.message()
    assert message["Message-ID"] == "<fixed.1@keepline.example>"
    assert message["In-Reply-To"] is None and message["References"] is None  # a new thread


def test_build_reply_long_thread_references_are_trimmed():
    refs = [f"<m{i}@x.example>" for i in range(40)]
    outgoing = mail.build_reply(
        from_address="ventas@keepline.example",
        to="c@x.example",
        subject="s",
        body="b",
        in_reply_to="m40@x.example",
        references=refs,
    )
    header = outgoing.extra_headers["References"].split()
    assert len(header) == 20
    assert header[0] == "<m0@x.example>" and header[-1] == "<m40@x.example>"
    assert outgoing.extra_headers["In-Reply-To"] == "<m40@x.example>"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"from_address": "not-an-address"},
        {"to": "nobody"},
        {"to": []},
        {"to": "a@x.example\r\nBcc: victim@x.example"},
        {"cc": ["bad"]},
    ],
)
def test_build_reply_rejects_bad_addresses(kwargs):
    base = {"from_address": "ventas@keepline.example", "to": "c@x.example", "subject": "s"}
    with pytest.raises(MailError):
        mail.build_reply(**{**base, **kwargs}, body="b")


def test_build_reply_header_injection_through_subject_and_name_is_flattened():
    outgoing = mail.build_reply(
        from_address="ventas@keepline.example",
        from_name='Ana"\r\nBcc: victim@x.example',
        to="c@x.example",
        subject="Hi\r\nBcc: victim@x.example",
        body="b",
    )
    raw = outgoing.message().as_bytes()
    assert b"\nBcc:" not in raw
    parsed = mail.parse(raw)
    assert parsed.subject == "Re: Hi Bcc: victim@x.example"
    assert [a.email for a in parsed.to] == ["c@x.example"]


def test_mangled_samples_never_raise_anything_but_mail_error():
    """Truncated, spliced and bit-flipped versions of every sample: parse either returns a
    ParsedEmail or raises MailError (the endpoint's 400), never anything else (a 500)."""
    samples = [p.read_bytes() for p in sorted(SAMPLES.glob("*.eml"))]
    pieces = [b"=?utf-8?q?", b"=?x-unknown?b?", b"?=", b"<", b">", b"\r\n", b"\r\n\r\n", b"--"]
    pieces += [b";", b'"', b"boundary=", b"charset=", b"filename*=", b"''", b"\xff", b"\x00"]
    pieces += [b"@", b",", b":", b"(", b"\\"]
    rnd = random.Random(13)
    parsed = 0
    for _ in range(400):
        raw = bytearray(rnd.choice(samples))
        for _ in range(rnd.randint(1, 8)):
            pos = rnd.randrange(len(raw) + 1)
            op = rnd.random()
            if op < 0.4:
                raw[pos:pos] = rnd.choice(pieces)
            elif op < 0.7:
                del raw[pos : pos + rnd.randint(1, 20)]
            elif op < 0.85 and raw:
                raw[min(pos, len(raw) - 1)] = rnd.randrange(256)
            else:
                del raw[pos:]
        try:
            result = mail.parse(bytes(raw))
        except MailError:
            continue
        parsed += 1
        assert result.from_address and result.message_id.startswith("<")
        mail.visible_reply(result.text)
        mail.thread_keys(result)
    assert parsed > 130  # most mangled messages are still readable


def test_thread_keys_are_bounded_and_ids_fit_the_stored_column():
    refs = " ".join(f"<r{i}@x.example>" for i in range(500))
    long_id = "<" + "a" * 300 + "@x.example>"
    raw = f"From: a@example.com\r\nMessage-ID: {long_id}\r\nReferences: {refs}\r\n\r\nb".encode()
    parsed = mail.parse(raw)
    keys = mail.thread_keys(parsed)
    assert len(keys) == mail.MAX_THREAD_KEYS and keys[0] == "<r499@x.example>"
    assert len(parsed.message_id) <= mail.MAX_MESSAGE_ID_LENGTH
    assert parsed.message_id == mail.normalise_message_id(long_id)  # the same mapping both ways
    answer = mail.parse(f"From: b@example.com\r\nIn-Reply-To: {long_id}\r\n\r\nok".encode())
    assert mail.thread_keys(answer) == [parsed.message_id]
