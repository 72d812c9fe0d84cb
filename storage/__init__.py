"""Persistence: PostgreSQL through Peewee, Redis Streams for events."""
