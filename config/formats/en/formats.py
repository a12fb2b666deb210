# One way to write a moment on every page, in every language (settings.FORMAT_MODULE_PATH):
# "3 Dec 2026, 17:55" / "3 dic 2026, 17:55" / "3 dez 2026, 17:55", in the viewer's time zone.
# Seconds only where they matter (the audit trail: DATETIME_FORMAT). static/js/chat.js writes
# the same shape with Intl.DateTimeFormat (keepline.js formatWhen).
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i:s"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
