"""Falcon WSGI app: REST API, SSE, webhooks and the ops pages."""
