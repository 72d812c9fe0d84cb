"""The outside world of the network-namespace lab: an SMTP server and a webhook receiver.

Run inside a namespace: `python -m tests.netns.receivers HOST SMTP_PORT HTTP_PORT OUT_DIR`.
Every message and call is appended as one JSON line to OUT_DIR/mail.jsonl
or OUT_DIR/webhooks.jsonl, so the test (another process, another
namespace) counts them from the files. The webhook answers after a short
pause, which keeps hops in flight when a worker host is killed.
"""
import email
import email.policy
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

WEBHOOK_PAUSE_SECONDS = 0.2
_lock = threading.Lock()


def _append(path, record):
    with _lock, open(path, "a") as out:
        out.write(json.dumps(record) + "\n")


class MailHandler:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        _append(self.out, {"message_id": parsed["Message-ID"], "to": envelope.rcpt_tos,
                           "attachments": [a.get_filename() for a in parsed.iter_attachments()]})
        return "250 OK"


def webhook_handler(out):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(WEBHOOK_PAUSE_SECONDS)
            _append(out, {"execution": self.headers.get("X-DocG-Execution"),
                          "idempotency_key": self.headers.get("Idempotency-Key"), "bytes": len(body)})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler


def main(host, smtp_port, http_port, out_dir):
    out_dir = Path(out_dir)
    smtp = Controller(MailHandler(out_dir / "mail.jsonl"), hostname=host, port=int(smtp_port))
    smtp.start()
    http = ThreadingHTTPServer((host, int(http_port)), webhook_handler(out_dir / "webhooks.jsonl"))
    print("receivers ready", flush=True)
    try:
        http.serve_forever()
    finally:
        smtp.stop()


if __name__ == "__main__":
    main(*sys.argv[1:5])
