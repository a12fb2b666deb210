"""DLP detectors: each finds its numbers when the check digits hold, and only then."""

import pytest

from governance import dlp


def found(text, **kwargs):
    return [(f.detector, text[f.start : f.end]) for f in dlp.scan(text, **kwargs)]


@pytest.mark.parametrize(
    ("detector", "valid", "invalid"),
    [
        ("card", "4111 1111 1111 1111", "4111 1111 1111 1112"),
        ("card", "5500-0000-0000-0004", "5500-0000-0000-0005"),
        ("card", "378282246310005", "378282246310006"),  # Amex, 15 digits
        ("iban", "DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 01"),
        ("iban", "ES9121000418450200051332", "ES9121000418450200051333"),
        ("iban", "BR1500000000000010932840814P2", "BR1500000000000010932840814P3"),
        ("br_cpf", "529.982.247-25", "529.982.247-26"),
        ("br_cpf", "52998224725", "52998224726"),
        ("br_cnpj", "11.222.333/0001-81", "11.222.333/0001-82"),
        ("br_cnpj", "11222333000181", "11222333000182"),
        ("es_dni", "12345678Z", "12345678A"),
        ("es_nie", "X1234567L", "X1234567A"),
        ("us_ssn", "536-90-4399", "000-12-3456"),
        ("card", "2223 0031 2200 3222", "2223 0031 2200 3223"),  # Mastercard 2-series
        ("card", "6011 1111 1111 1117", "6011 1111 1111 1118"),  # Discover
        ("iban", "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 33"),
        ("br_cpf", "111.444.777-35", "111.111.111-11"),  # same digits pass the check, never issued
        ("br_cnpj", "11.444.777/0001-61", "00.000.000/0000-00"),
        ("es_dni", "12345678z", "12345678Y"),
        ("es_nie", "Y1234567X", "Y1234567A"),
        ("es_nie", "Z1234567R", "Z1234567A"),
        ("us_ssn", "536-90-4399", "666-12-3456"),
        ("us_ssn", "536-90-4399", "900-12-3456"),
        ("us_ssn", "536-90-4399", "123-00-4567"),
    ],
)
def test_each_detector_checks_its_digits(detector, valid, invalid):
    assert found(f"Here it is: {valid}.") == [(detector, valid)]
    assert found(f"Here it is: {invalid}.") == []


@pytest.mark.parametrize("after", [" thanks", " y", " ok.", "\nnext line"])
def test_an_iban_followed_by_words_is_still_found(after):
    text = f"Pay to DE89 3704 0044 0532 0130 00{after}"
    assert found(text) == [("iban", "DE89 3704 0044 0532 0130 00")]
    assert found(f"Pay to DE89 3704 0044 0532 0130 01{after}") == []


def test_numbers_that_are_not_cards_are_left_alone():
    text = (
        "Order 2026-12-03, call +55 11 98765 4321 or +34 612 345 678, reference "
        "404111111111111111112026123, quote 1500.00 EUR"
    )
    assert found(text) == []


def test_a_card_among_other_digit_groups_is_still_found():
    text = "ref 12 4111 1111 1111 1111 ok"
    assert found(text) == [("card", "4111 1111 1111 1111")]


def test_only_the_detectors_asked_for():
    text = "CPF 529.982.247-25, card 4111111111111111"
    assert [d for d, _ in found(text)] == ["br_cpf", "card"]
    assert found(text, detectors=["card"]) == [("card", "4111111111111111")]


def test_admin_patterns_and_keywords():
    keywords = [("insider", dlp.keyword_pattern(["dica quente", "Insider Tip"]))]
    patterns = [("contract", __import__("re").compile(r"CT-\d{6}"))]
    text = "An insider tip: contract CT-123456 closes; a DICA QUENTE; insiders only"
    assert found(text, patterns=patterns, keywords=keywords) == [
        ("keyword:insider", "insider tip"),
        ("pattern:contract", "CT-123456"),
        ("keyword:insider", "DICA QUENTE"),
    ]
    assert dlp.keyword_pattern(["", "  "]) is None


def test_redact_masks_what_was_found_and_keeps_a_cards_last_four():
    text = "Card 4111 1111 1111 1111, CPF 529.982.247-25, IBAN DE89 3704 0044 0532 0130 00."
    redacted = dlp.redact(text, dlp.scan(text))
    assert redacted == (
        "Card •••• •••• •••• 1111, CPF •••.•••.•••-••, IBAN •••• •••• •••• •••• ••30 00."
    )
