"""Data-subject requests (GDPR, LGPD): selectors (reads and the access export), services (every
decision), views (console pages), api (/api/v1/compliance/dsr/) and forms."""
