"""Every write of the compliance app, by topic (one module each)."""
