"""`docg demo`: a sample contract workflow, end to end, watched live over SSE.

It starts the real processes (gunicorn web, dramatiq worker), a local SMTP
server that keeps each email as an .eml file, and a local receiver for the
outgoing webhook; then it creates an organization, uploads a template,
creates the 5-node workflow, starts a run through the API and prints the
run's events as they arrive on the SSE stream.
"""
import http.server
import json
import sys
import threading
import time
from pathlib import Path

import requests

from cli import example_template, sample
from cli.processes import environment

SECRET = "demo-webhook-secret"


def start_mail(folder):
    from integrations.local import maildrop

    controller, _ = maildrop.catch(folder, port=0)
    return controller, controller.drop


def start_receiver(log_path):
    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with open(log_path, "a") as log:
                log.write(json.dumps({"signature": self.headers.get("X-DocG-Signature"),
                                      "body": json.loads(body)}) + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_port():
    """PORT when set; else 8000 when free; else any free port."""
    import os
    import socket

    if os.environ.get("PORT"):
        return int(os.environ["PORT"])
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 8000))
            return 8000
        except OSError:
            return _free_port()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        time.sleep(0.1)


def _up(url):
    try:
        return requests.get(f"{url}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def start_processes(env, port, logs):
    import subprocess

    logs.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent
    bindir = Path(sys.executable).parent
    worker = subprocess.Popen([str(bindir / "dramatiq"), "actors", "--processes", "1", "--threads", "4"],
                              cwd=root, env=env, stdout=open(logs / "worker.log", "wb"), stderr=subprocess.STDOUT)
    web = subprocess.Popen([str(bindir / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", "1",
                            "--bind", f"127.0.0.1:{port}", "web.wsgi:app"],
                           cwd=root, env=env, stdout=open(logs / "web.log", "wb"), stderr=subprocess.STDOUT)
    return [worker, web]


def follow(base, headers, execution_id, on_event=None):
    """Print each event of the run as it arrives; return the final run state.

    `on_event(event_type, event)` runs after each event is printed, in the
    same thread, so what it prints appears in order with the events.
    """
    url = f"{base}/api/v1/sse/executions/{execution_id}/stream"
    with requests.get(url, headers=headers, stream=True, timeout=300) as stream:
        event_type = None
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("event:"):
                event_type = line[6:].strip()
            elif line.startswith("data:") and event_type:
                event = json.loads(line[5:])
                step = event.get("current_step") or {}
                detail = event["data"].get("label") or event["data"].get("to") or ""
                bar = "#" * (event["progress"] // 5)
                print(f"  [{bar:<20}] {event['progress']:>3}%  {event_type:<26} {event['status']:<10} "
                      f"{detail or step.get('label', '')}", flush=True)
                if on_event is not None:
                    on_event(event_type, event)
    return requests.get(f"{base}/api/v1/executions/{execution_id}", headers=headers, timeout=10).json()


class Demo:
    """Drive the sample run: follow its stream, approve and sign when it waits."""

    def __init__(self, base, headers, drop):
        self.base, self.headers, self.drop = base, headers, drop

    def api(self, method, path, headers=None, **kwargs):
        return requests.request(method, f"{self.base}/api/v1{path}", headers={**self.headers, **(headers or {})},
                                timeout=10, **kwargs)

    def run(self, execution_id):
        """Follow the stream; approve when the run pauses, sign when signatures are requested."""
        done = set()

        def act(event_type, event):
            if event_type == "approval.requested" and "approved" not in done:
                done.add("approved") if self._approve(execution_id) else None
            elif event_type == "signature.requested" and "signed" not in done:
                done.add("signed") if self._sign(execution_id) else None

        follow(self.base, self.headers, execution_id, on_event=act)
        return self.api("GET", f"/executions/{execution_id}").json()

    def _approve(self, execution_id):
        import email
        import email.policy

        _wait(lambda: any(sample.APPROVER in p.read_text(errors="replace") for p in self.drop.saved), 30,
              "the approval email")
        for path in self.drop.saved:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            link = message.get("X-DocG-Approval-Link")
            if link and sample.APPROVER in str(message["To"]):
                token = link.rsplit("/", 1)[-1]
                self.api("POST", f"/approvals/{token}/decision", json={"decision": "approved",
                                                                       "comment": "Terms checked."})
                print(f"  → {sample.APPROVER} approved through {link.strip()}", flush=True)
                return True
        return False

    def _sign(self, execution_id):
        steps = self.api("GET", f"/executions/{execution_id}/steps").json()["steps"]
        signers = next(s for s in steps if s["label"] == "sign")["data_out"]["signers"]
        for signer in signers:
            requests.get(signer["sign_url"], timeout=10)
            requests.post(signer["sign_url"], json={"action": "signed"}, timeout=10)
            print(f"  → {signer['email']} signed in the sandbox ({signer['sign_url']})", flush=True)
        return True


def main(config, *, keep=False):
    var = Path(config.var_dir)
    demo_dir = var / "demo"
    env = environment(config)
    mail, drop = start_mail(demo_dir / "mail")
    env["SMTP_URL"] = f"smtp://127.0.0.1:{mail.port}"
    receiver = start_receiver(demo_dir / "webhooks.jsonl")
    # NOTE: the demo's own receiver is on loopback, which the outbound guard refuses unless it is listed
    env["OUTBOUND_ALLOW"] = ",".join(filter(None, [env.get("OUTBOUND_ALLOW"), f"127.0.0.1:{receiver.server_port}"]))
    env["dramatiq_worker_timeout"] = env.get("dramatiq_worker_timeout", "100")
    # NOTE: a queue namespace of its own, so a `docg up` on the same servers does not take the demo's hops.
    env["BROKER_NAMESPACE"] = f"{config.broker_namespace}-demo"
    from cli import cmd_migrate

    cmd_migrate(None)
    port = demo_port()
    base = f"http://127.0.0.1:{port}"
    env["PUBLIC_BASE_URL"] = base
    print(f"DocG demo — PostgreSQL {config.database_url}\n            Redis {config.redis_url}")
    processes = start_processes(env, port, demo_dir / "logs")
    try:
        _wait(lambda: _up(base), 60, "the web process")
        print(f"Servers (they stop when the demo ends unless you run `docg demo --keep`):\n"
              f"  web        {base}  (API {base}/api/v1, health {base}/health)\n"
              f"  dashboard  {base}/ops/dramatiq  (admin token {env['ADMIN_TOKEN']})\n"
              f"  SMTP       {env['SMTP_URL']}  → {demo_dir / 'mail'}\n"
              f"  webhook    http://127.0.0.1:{receiver.server_port}/hook  → {demo_dir / 'webhooks.jsonl'}\n"
              f"  logs       {demo_dir / 'logs'}", flush=True)
        from storage import bootstrap, tenancy
        from storage.db import connection

        bootstrap.configure_database(config)
        with connection():
            organization, token = tenancy.create_organization("Demo Co")
        headers = {"Authorization": f"Bearer {token}", "X-Organization-ID": str(organization.id)}
        demo = Demo(base, headers, drop)
        template = demo.api("POST", "/templates?name=contract.docx", data=example_template.template_bytes(),
                            headers={"Content-Type": "application/vnd.openxmlformats-"
                                     "officedocument.wordprocessingml.document"}).json()
        body = sample.demo_workflow(template["id"], webhook_url=f"http://127.0.0.1:{receiver.server_port}/hook",
                                    webhook_secret=SECRET)
        workflow = demo.api("POST", "/workflows", json=body).json()
        started = demo.api("POST", f"/workflows/{workflow['id']}/executions",
                           json={"trigger_data": example_template.demo_trigger()}).json()
        execution_id = started["execution_id"]
        viewer = demo.api("POST", f"/executions/{execution_id}/stream-token").json()["viewer_url"]
        print(f"\nRun {execution_id} of “{workflow['name']}”\nWatch it in a browser: {base}{viewer}\n")
        state = demo.run(execution_id)
        steps = {s["label"]: s for s in demo.api("GET", f"/executions/{execution_id}/steps").json()["steps"]}
        print(f"\nStatus: {state['status']}  progress {state['progress']}%  signature {state['signature_state']}")
        if state["status"] != "completed":
            print(f"Error: {state['last_error_human']} ({state['last_error_tech']})")
            return 1
        print(f"Document:  {steps['archive']['data_out']['path']}")
        print(f"Emails:    {demo_dir / 'mail'}  (the approval request, the signer's invitation, then the contract "
              "to ana@acme.example)")
        print(f"Webhook:   {demo_dir / 'webhooks.jsonl'}  (signed with X-DocG-Signature)")
        print(f"Run state: {base}/api/v1/executions/{execution_id}  (headers: Authorization: Bearer {token}, "
              f"X-Organization-ID: {organization.id})")
        if keep:
            print(f"\n--keep: web ({base}), worker, SMTP and webhook receiver keep running; Ctrl-C stops them.",
                  flush=True)
            try:
                processes[0].wait()
            except KeyboardInterrupt:
                pass
        else:
            print("\nThe demo's servers stop now; `docg demo --keep` leaves them running.")
        return 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        receiver.shutdown()
        mail.stop()
