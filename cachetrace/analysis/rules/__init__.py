"""One module per analysis rule; each exposes ``RULE``."""
