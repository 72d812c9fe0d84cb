"""Follow a run's event stream like a browser's EventSource, and say how it ended.

`EventSource` has the browser's semantics: after the server closes the
stream (or the connection drops) it waits the `retry:` delay and reconnects
with `Last-Event-ID`; a 204 tells it to stop; any other non-200 answer fails
it. DocG closes a run's stream after the terminal event and answers 204 to a
reconnect with nothing new, so `follow()` ends without a timer.
"""
import json
import time

import requests

TERMINAL = frozenset({"completed", "failed", "canceled"})
#: statuses at which `docg run`/`docg tail` return: the run ended or waits for a person
STOPS = TERMINAL | {"needs_review"}


class StreamRefused(Exception):
    """The server answered the stream request with an error status."""

    def __init__(self, response):
        super().__init__(f"HTTP {response.status_code}: {response.text[:300]}")
        self.status_code = response.status_code


class EventSource:
    """Yield (id, type, data) of a text/event-stream, reconnecting as a browser does."""

    def __init__(self, url, headers=None, *, last_event_id=None, read_timeout=60, session=None):
        self.url, self.headers = url, dict(headers or {})
        self.last_event_id = last_event_id
        self.retry_ms = 3000
        self.read_timeout = read_timeout
        self.connections = 0
        self.session = session or requests.Session()

    def events(self):
        while True:
            headers = dict(self.headers)
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            try:
                response = self.session.get(self.url, headers=headers, stream=True, timeout=(5, self.read_timeout))
            except requests.ConnectionError:
                time.sleep(self.retry_ms / 1000)
                continue
            self.connections += 1
            with response:
                if response.status_code == 204:
                    return
                if response.status_code != 200:
                    raise StreamRefused(response)
                try:
                    yield from self._frames(response)
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    pass
            time.sleep(self.retry_ms / 1000)

    def _frames(self, response):
        frame = {}
        for line in response.iter_lines(decode_unicode=True):
            if line == "":
                if "data" in frame:
                    if "id" in frame:
                        self.last_event_id = frame["id"]
                    yield frame.get("id"), frame.get("event", "message"), json.loads(frame["data"])
                frame = {}
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "retry" and value.isdigit():
                    self.retry_ms = int(value)
                elif field in ("id", "event"):
                    frame[field] = value
                elif field == "data":
                    frame["data"] = f"{frame['data']}\n{value}" if "data" in frame else value


def describe(event_type, event):
    """One line for any event: progress bar, type, status, what it is about."""
    if event_type == "stream.resync":
        run = event.get("run") or {}
        return f"  (history pruned: {run.get('status', '?')}, {run.get('progress', 0)}%)"
    data = event.get("data") or {}
    step = event.get("current_step") or {}
    detail = data.get("label") or data.get("to") or data.get("error_human") or step.get("label") or ""
    progress = event.get("progress") or 0
    bar = "#" * (progress // 5)
    return f"  [{bar:<20}] {progress:>3}%  {event_type:<26} {event.get('status', ''):<12} {detail}"


def status_of(event_type, event):
    if event_type == "stream.resync":
        return (event.get("run") or {}).get("status")
    return event.get("status")


def follow(base, headers, execution_id, *, last_event_id=None, out=print):
    """Print the run's events until it ends or waits for review; return its state."""
    source = EventSource(f"{base}/api/v1/sse/executions/{execution_id}/stream", headers,
                         last_event_id=last_event_id)
    state_url = f"{base}/api/v1/executions/{execution_id}"
    for _, event_type, event in source.events():
        out(describe(event_type, event))
        status = status_of(event_type, event)
        if status in TERMINAL:
            break
        # a replayed needs_review may be history: stop only if the run still waits there
        if status == "needs_review" and requests.get(state_url, headers=headers, timeout=10).json().get(
                "status") == "needs_review":
            break
    return requests.get(state_url, headers=headers, timeout=10).json()


def report(state, out=print):
    """Print how the run ended and what to do about it; return the exit code."""
    status = state.get("status")
    out(f"run {state.get('id')}: {status}")
    if status != "completed":
        if state.get("last_error_human"):
            out(f"  {state['last_error_human']}")
        for action in state.get("recommended_actions") or []:
            out(f"  -> {action.get('label')}: {action.get('description')}")
    return 0 if status == "completed" else 1
