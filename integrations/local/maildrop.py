"""The local mail catcher: keep every message as an .eml file, list them.

`docg up` starts `catch()` when `SMTP_URL` is unset, so email and approval
nodes work out of the box; the messages land in `VAR_DIR/mail/`, where
`/ops/mail` and `docg mail` read them with `messages()`.
"""
import dataclasses
import datetime
import email
import email.policy
import os
import re
import socket
import time
import uuid
from pathlib import Path

#: the port `SMTP_URL`'s default names; the catcher takes it when it is free
DEFAULT_PORT = 1025
SAFE_NAME = re.compile(r"^[0-9A-Za-z._-]+\.eml$")


def folder_of(var_dir):
    return Path(var_dir) / "mail"


class MailDrop:
    """aiosmtpd handler writing each received message to `folder` atomically."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.saved = []

    async def handle_DATA(self, server, session, envelope):
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(envelope.original_content)
        os.replace(partial, path)  # NOTE: readers never see a half-written message.
        self.saved.append(path)
        return "250 OK"


def _port_free(host, port):
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def catch(folder, *, host="127.0.0.1", port=None):
    """Start an SMTP server saving into `folder`; return (controller, smtp_url).

    NOTE: it takes port 1025 when free, so `SMTP_URL`'s default is true for
    processes started by hand too; otherwise any free port.
    """
    from aiosmtpd.controller import Controller

    drop = MailDrop(folder)
    candidates = [port] if port is not None else [DEFAULT_PORT, 0] if _port_free(host, DEFAULT_PORT) else [0]
    for index, candidate in enumerate(candidates):
        if candidate == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                candidate = sock.getsockname()[1]
        controller = Controller(drop, hostname=host, port=candidate)
        try:
            controller.start()
        except (OSError, RuntimeError):
            if index == len(candidates) - 1:
                raise
            continue  # NOTE: someone took 1025 between the check and the bind.
        controller.drop = drop
        return controller, f"smtp://{host}:{candidate}"


@dataclasses.dataclass
class Caught:
    name: str
    subject: str
    sender: str
    recipients: list
    received_at: str
    approval_link: str | None
    size: int

    def as_dict(self):
        return dataclasses.asdict(self)


def messages(folder):
    """Return the caught messages, newest last."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: (p.stat().st_mtime, p.name)):
        with path.open("rb") as handle:
            parsed = email.message_from_binary_file(handle, policy=email.policy.default)
        recipients = [a.strip() for field in ("To", "Cc") for a in str(parsed.get(field) or "").split(",")
                      if a.strip()]
        received = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
        link = parsed.get("X-DocG-Approval-Link")
        found.append(Caught(name=path.name, subject=str(parsed.get("Subject") or ""),
                            sender=str(parsed.get("From") or ""), recipients=recipients,
                            received_at=received.isoformat(timespec="seconds").replace("+00:00", "Z"),
                            approval_link=str(link).strip() if link else None, size=path.stat().st_size))
    return found


def open_message(folder, name):
    """Return the raw bytes of message `name`, or None (names are never paths)."""
    if not SAFE_NAME.match(name or ""):
        return None
    path = Path(folder) / name
    return path.read_bytes() if path.is_file() else None
