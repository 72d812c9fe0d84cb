"""A real SMTP server (aiosmtpd) that counts the connections it accepts, for connection-reuse tests."""
import threading

from tests.support import free_port, wait_until


class CountingServer:
    """A real SMTP server that counts the connections it accepts and can drop them."""

    def __init__(self, *, idle_timeout=300, drop_in_data=False):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        self.lock = threading.Lock()
        self.opened, self.live, self.received, self.quits = 0, set(), [], 0
        self.drop_in_data = drop_in_data
        counter = self

        class _Smtp(SMTP):
            def connection_made(self, transport):
                super().connection_made(transport)
                with counter.lock:
                    counter.opened += 1
                    counter.live.add(self)

            def connection_lost(self, error):
                with counter.lock:
                    counter.live.discard(self)
                super().connection_lost(error)

        class _Controller(Controller):
            def factory(self):
                return _Smtp(self.handler, **self.SMTP_kwargs)

        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.controller = _Controller(self, hostname="127.0.0.1", port=self.port, timeout=idle_timeout)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append(envelope.original_content)
        if self.drop_in_data:
            server.transport.abort()  # the message arrived; the client never hears so
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quits += 1
        return "221 Bye"

    def start(self):
        self.controller.start()
        wait_until(lambda: not self.live, 5, message="the controller's start-up probe closed")
        with self.lock:
            self.opened = 0
        return self

    def drop_all(self):
        with self.lock:
            sessions = list(self.live)
        for session in sessions:
            self.controller.loop.call_soon_threadsafe(session.transport.abort)
        wait_until(lambda: not self.live, 5, message="server closed its connections")
