"""Fixtures of the tests that run hops in process (no worker takes them).

NOTE: nothing of the app is imported at module level: pytest loads this
file before tests/conftest.py's pytest_configure has set the environment
when it is given a path under tests/actors.
"""
import dataclasses

import pytest


@pytest.fixture
def captured(monkeypatch):
    """Hold every hop message the code under test sends, instead of sending it to the broker."""
    from actors import flow

    sent = []
    monkeypatch.setattr(flow, "send", lambda envelope, phase, **_: sent.append((envelope, phase)))
    return sent


@pytest.fixture
def one_node_per_message(monkeypatch):
    """HOP_CHAIN_MS=0 in this process: a hop run in process sends the next one instead of running it."""
    from actors.broker import services

    monkeypatch.setattr(services, "settings", dataclasses.replace(services.settings, hop_chain_ms=0))
