"""Inbound webhooks: verify on the raw body first, dedupe, persist, enqueue."""
