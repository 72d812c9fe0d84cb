"""`docg run` and `docg tail`: talk to a running DocG through its API."""
import json
import os

import requests

from cli.demo import follow


def default_url(environ=None):
    """DOCG_URL, or the local web process on PORT (8000 by default)."""
    environ = os.environ if environ is None else environ
    return (environ.get("DOCG_URL") or f"http://localhost:{environ.get('PORT') or 8000}").rstrip("/")


def _api():
    base = default_url()
    try:
        headers = {"Authorization": f"Bearer {os.environ['DOCG_TOKEN']}", "X-Organization-ID": os.environ["DOCG_ORG"]}
    except KeyError as missing:
        raise SystemExit(f"set {missing.args[0]} (from `docg org create NAME`)") from None
    return base, headers


def run(workflow_id, trigger_data, *, follow_events=True, follow=follow):
    base, headers = _api()
    resp = requests.post(f"{base}/api/v1/workflows/{workflow_id}/executions", json={"trigger_data": trigger_data},
                         headers=headers, timeout=10)
    print(json.dumps(resp.json(), indent=2))
    if resp.status_code != 202:
        return 1
    if follow_events:
        follow(base, headers, resp.json()["execution_id"])
    return 0


def tail(execution_id, *, last_event_id=None):
    base, headers = _api()
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    state = follow(base, headers, execution_id)
    print(json.dumps(state, indent=2))
    return 0 if state.get("status") != "failed" else 1
