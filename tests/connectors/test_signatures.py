import hashlib
import hmac

from django.http import QueryDict

from connectors import signatures

# Twilio's documented example (its security docs and every helper library's tests).
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
TWILIO_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

BODY = b'{"object":"whatsapp_business_account","entry":[]}'


# --- WhatsApp ---


def test_whatsapp_signature_is_hmac_sha256_hex_of_the_raw_body():
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    known = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert signatures.whatsapp_signature("Jefe", b"what do ya want for nothing?") == (
        f"sha256={known}"
    )


def test_whatsapp_valid_signature_verifies():
    header = signatures.whatsapp_signature("app-secret", BODY)
    assert signatures.verify_whatsapp_signature("app-secret", BODY, header)
    assert signatures.verify_whatsapp_signature(
        "app-secret", BODY, header.upper().replace("SHA256", "sha256")
    )


def test_whatsapp_invalid_signature_fails():
    header = "sha256=" + "0" * 64
    assert not signatures.verify_whatsapp_signature("app-secret", BODY, header)


def test_whatsapp_signature_under_another_secret_fails():
    header = signatures.whatsapp_signature("other-secret", BODY)
    assert not signatures.verify_whatsapp_signature("app-secret", BODY, header)


def test_whatsapp_missing_or_malformed_header_fails():
    digest = hmac.new(b"app-secret", BODY, hashlib.sha256).hexdigest()
    assert not signatures.verify_whatsapp_signature("app-secret", BODY, None)
    assert not signatures.verify_whatsapp_signature("app-secret", BODY, "")
    assert not signatures.verify_whatsapp_signature("app-secret", BODY, digest)  # no "sha256="
    assert not signatures.verify_whatsapp_signature("app-secret", BODY, f"sha1={digest}")


def test_whatsapp_modified_body_fails():
    header = signatures.whatsapp_signature("app-secret", BODY)
    assert not signatures.verify_whatsapp_signature("app-secret", BODY + b" ", header)
    assert not signatures.verify_whatsapp_signature(
        "app-secret", BODY.replace(b"[]", b"[{}]"), header
    )


def test_whatsapp_unset_secret_never_verifies():
    assert not signatures.verify_whatsapp_signature(
        "", BODY, signatures.whatsapp_signature("", BODY)
    )


def test_whatsapp_challenge_handshake():
    query = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert signatures.whatsapp_challenge(query, "tok") == "1158201444"
    assert signatures.whatsapp_challenge({**query, "hub.verify_token": "bad"}, "tok") is None
    assert signatures.whatsapp_challenge({**query, "hub.mode": "unsubscribe"}, "tok") is None
    assert signatures.whatsapp_challenge({**query, "hub.challenge": ""}, "tok") is None
    assert (
        signatures.whatsapp_challenge({"hub.mode": "subscribe", "hub.challenge": "1"}, "tok")
        is None
    )
    assert signatures.whatsapp_challenge(query, "") is None


def test_whatsapp_challenge_reads_a_querydict():
    query = QueryDict("hub.mode=subscribe&hub.verify_token=tok&hub.challenge=42")
    assert signatures.whatsapp_challenge(query, "tok") == "42"


# --- Twilio ---


def test_twilio_documented_example():
    assert signatures.twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_SIGNATURE
    assert signatures.verify_twilio_signature(
        TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE
    )


def test_twilio_parameter_order_does_not_matter():
    reversed_params = dict(reversed(list(TWILIO_PARAMS.items())))
    assert signatures.verify_twilio_signature(
        TWILIO_TOKEN, TWILIO_URL, reversed_params, TWILIO_SIGNATURE
    )


def test_twilio_repeated_parameters_documented_vector():
    # twilio-php's test: repeated names contribute each distinct value, sorted.
    pairs = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert signatures.twilio_signature(TWILIO_TOKEN, TWILIO_URL, pairs) == (
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    )
    query = QueryDict("Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234")
    assert signatures.verify_twilio_signature(
        TWILIO_TOKEN, TWILIO_URL, query, "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    )


def test_twilio_querydict_form_verifies():
    body = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in TWILIO_PARAMS.items())
    assert signatures.verify_twilio_signature(
        TWILIO_TOKEN, TWILIO_URL, QueryDict(body), TWILIO_SIGNATURE
    )


def test_twilio_tampered_parameter_or_url_fails():
    tampered = {**TWILIO_PARAMS, "Digits": "9999"}
    assert not signatures.verify_twilio_signature(
        TWILIO_TOKEN, TWILIO_URL, tampered, TWILIO_SIGNATURE
    )
    extra = {**TWILIO_PARAMS, "Body": "hi"}
    assert not signatures.verify_twilio_signature(TWILIO_TOKEN, TWILIO_URL, extra, TWILIO_SIGNATURE)
    assert not signatures.verify_twilio_signature(
        TWILIO_TOKEN, TWILIO_URL + "&x=1", TWILIO_PARAMS, TWILIO_SIGNATURE
    )


def test_twilio_invalid_missing_or_wrong_token_fails():
    assert not signatures.verify_twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "FAIL")
    assert not signatures.verify_twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, None)
    assert not signatures.verify_twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "")
    assert not signatures.verify_twilio_signature(
        "54321", TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE
    )
    assert not signatures.verify_twilio_signature("", TWILIO_URL, TWILIO_PARAMS, TWILIO_SIGNATURE)


def test_twilio_default_port_may_be_added_or_dropped_on_the_way():
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert signatures.verify_twilio_signature(
        TWILIO_TOKEN, with_port, TWILIO_PARAMS, TWILIO_SIGNATURE
    )
    signed_with_port = signatures.twilio_signature(TWILIO_TOKEN, with_port, TWILIO_PARAMS)
    assert signatures.verify_twilio_signature(
        TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, signed_with_port
    )
    other_port = "https://mycompany.com:8443/myapp.php?foo=1&bar=2"
    assert not signatures.verify_twilio_signature(
        TWILIO_TOKEN, other_port, TWILIO_PARAMS, TWILIO_SIGNATURE
    )


def test_twilio_no_parameters_signs_the_url_alone():
    expected = signatures.twilio_signature(TWILIO_TOKEN, TWILIO_URL, {})
    assert signatures.twilio_signature(TWILIO_TOKEN, TWILIO_URL, None) == expected


# --- Email shared secret ---


def test_email_secret():
    headers = signatures.email_secret_header("s3cret")
    assert headers == {"X-Keepline-Secret": "s3cret"}
    assert signatures.verify_email_secret("s3cret", headers["X-Keepline-Secret"])
    assert not signatures.verify_email_secret("s3cret", "s3cre")
    assert not signatures.verify_email_secret("s3cret", "S3CRET")
    assert not signatures.verify_email_secret("s3cret", None)
    assert not signatures.verify_email_secret("s3cret", "")
    assert not signatures.verify_email_secret("", "")
