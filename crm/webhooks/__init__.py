"""Webhooks: admins register endpoints; events become signed deliveries through an outbox."""
