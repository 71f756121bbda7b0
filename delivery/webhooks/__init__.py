"""A company's connections to its own systems: outbound webhooks."""
