"""gunicorn's access log without the secrets some URLs carry.

Approval links (`/approvals/{token}`), sandbox signing links and signer
endpoints put a bearer-like token in the path, and the run viewer and SSE
take a stream token as `?token=`. Anyone who reads the web log could act
with them, so the log shows `[redacted]` in their place.
"""
import re

from gunicorn.glogging import Logger

#: a path segment that is a token, after the segment that names it
PATH_TOKEN = re.compile(r"(/approvals/|/sandbox/sign/[^/?\s]+/|/signers/)[^/?\s]+")
QUERY_TOKEN = re.compile(r"((?:^|[?&])(?:token|state|code)=)[^&\s]*")


def redact(text):
    """Return `text` (a request line, path or query) with its tokens replaced."""
    text = PATH_TOKEN.sub(r"\1[redacted]", text)
    return QUERY_TOKEN.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    """The default logger, with the request line, path and query redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
