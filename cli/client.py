"""`docg run` and `docg tail`: talk to a running DocG through its API."""
import json
import os

import requests

from cli.watch import follow, report


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
    """Start a run; follow it until it ends or needs review. Exit 1 unless it completed."""
    base, headers = _api()
    resp = requests.post(f"{base}/api/v1/workflows/{workflow_id}/executions", json={"trigger_data": trigger_data},
                         headers=headers, timeout=10)
    print(json.dumps(resp.json(), indent=2))
    if resp.status_code != 202:
        return 1
    if not follow_events:
        return 0
    return report(follow(base, headers, resp.json()["execution_id"]))


def tail(execution_id, *, last_event_id=None):
    """Follow a run from `last_event_id`; exit 1 for failed, canceled and needs_review."""
    base, headers = _api()
    return report(follow(base, headers, execution_id, last_event_id=last_event_id))
