"""One SMTP connection per worker thread and server, counted at a real aiosmtpd server."""
import threading
from email.message import EmailMessage

import pytest

from integrations.errors import Unavailable
from integrations.local import smtp
from tests.smtp_kit import CountingServer
from tests.support import wait_until


@pytest.fixture
def server():
    smtp.close_thread()
    box = CountingServer().start()
    yield box
    smtp.close_thread()
    box.controller.stop()


def message(n):
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "docg@localhost", "ana@acme.example", f"mail {n}"
    mail["Message-ID"] = f"<m{n}@docg>"
    mail.set_content(f"body {n}")
    return mail


def subjects(box):
    return [raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode() for raw in box.received]


def test_emails_from_one_thread_share_one_connection(server):
    # When one thread sends 10 emails to the same server
    for n in range(10):
        smtp.smtp_send(server.url, message(n))

    # Then they all arrive over one connection, which stays open for the next
    assert subjects(server) == [f"mail {n}" for n in range(10)]
    assert server.opened == 1 and len(server.live) == 1


def test_each_thread_keeps_its_own_connection(server):
    threads = [threading.Thread(target=lambda i=i: [smtp.smtp_send(server.url, message(f"{i}-{n}"))
                                                    for n in range(3)]) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(server.received) == 6 and server.opened == 2


def test_a_connection_the_server_dropped_is_replaced_and_the_mail_sent_once(server):
    # Given a kept connection that the server has since closed
    smtp.smtp_send(server.url, message(1))
    server.drop_all()
    in_flight = []

    # When the next email goes out
    smtp.smtp_send(server.url, message(2), before_data=lambda: in_flight.append(True))

    # Then it arrives exactly once, on a new connection; DATA was reached once
    assert subjects(server) == ["mail 1", "mail 2"]
    assert server.opened == 2 and in_flight == [True]


def test_a_server_idle_timeout_is_survived():
    # Given a server that closes a session idle for 0.3 s (it answers 421 first)
    smtp.close_thread()
    box = CountingServer(idle_timeout=0.3).start()
    try:
        smtp.smtp_send(box.url, message(1))
        wait_until(lambda: not box.live, 5, message="idle session closed by the server")

        # When the next email goes out on what the client still holds
        smtp.smtp_send(box.url, message(2))

        # Then it is sent once, on a second connection
        assert subjects(box) == ["mail 1", "mail 2"] and box.opened == 2
    finally:
        smtp.close_thread()
        box.controller.stop()


def test_a_connection_idle_longer_than_the_limit_is_not_reused(server, monkeypatch):
    monkeypatch.setattr(smtp, "IDLE_S", 0.0)
    smtp.smtp_send(server.url, message(1))
    smtp.smtp_send(server.url, message(2))
    assert len(server.received) == 2 and server.opened == 2


def test_a_drop_after_data_on_a_kept_connection_is_not_resent():
    # Given a kept connection, and a server that takes the next message and hangs up without answering
    smtp.close_thread()
    box = CountingServer().start()
    try:
        smtp.smtp_send(box.url, message(1))
        box.drop_in_data = True

        # When the next email reaches DATA and the connection drops
        with pytest.raises(Unavailable) as raised:
            smtp.smtp_send(box.url, message(2), before_data=lambda: None)

        # Then the outcome is unknown (the ledger decides) and the message was not sent a second time
        assert raised.value.outcome_unknown is True
        assert subjects(box) == ["mail 1", "mail 2"] and box.opened == 1
    finally:
        smtp.close_thread()
        box.controller.stop()


def test_closing_the_thread_pool_ends_the_session(server):
    smtp.smtp_send(server.url, message(1))
    assert len(server.live) == 1
    smtp.close_thread()
    wait_until(lambda: not server.live, 5, message="session closed after QUIT")
    assert server.quits == 1
    smtp.smtp_send(server.url, message(2))
    assert server.opened == 2
