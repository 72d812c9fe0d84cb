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


class MailDrop:
    """aiosmtpd handler writing every received message to a folder."""

    def __init__(self, folder):
        self.folder = folder
        self.saved = []

    async def handle_DATA(self, server, session, envelope):
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{len(self.saved) + 1}.eml"
        path.write_bytes(envelope.original_content)
        self.saved.append(path)
        return "250 OK"


def start_mail(folder):
    from aiosmtpd.controller import Controller

    folder.mkdir(parents=True, exist_ok=True)
    drop = MailDrop(folder)
    controller = Controller(drop, hostname="127.0.0.1", port=_free_port())
    controller.start()
    return controller, drop


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


def follow(base, headers, execution_id):
    """Print each event of the run as it arrives; return the final run state."""
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
    return requests.get(f"{base}/api/v1/executions/{execution_id}", headers=headers, timeout=10).json()


class Demo:
    """Drive the sample run: follow its stream, approve and sign when it waits."""

    def __init__(self, base, headers, drop):
        self.base, self.headers, self.drop = base, headers, drop

    def api(self, method, path, headers=None, **kwargs):
        return requests.request(method, f"{self.base}/api/v1{path}", headers={**self.headers, **(headers or {})},
                                timeout=10, **kwargs)

    def run(self, execution_id):
        import email
        import email.policy
        import threading

        watcher = threading.Thread(target=follow, args=(self.base, self.headers, execution_id), daemon=True)
        watcher.start()
        approved = signed = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = self.api("GET", f"/executions/{execution_id}").json()
            if state["status"] in ("completed", "failed", "canceled"):
                break
            if state["status"] == "paused" and not approved:
                approved = self._approve(email, execution_id)
            if state["status"] == "signing" and not signed:
                signed = self._sign(execution_id)
            time.sleep(0.2)
        watcher.join(15)
        return self.api("GET", f"/executions/{execution_id}").json()

    def _approve(self, email, execution_id):
        import email.policy

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
    env["dramatiq_worker_timeout"] = env.get("dramatiq_worker_timeout", "100")
    from cli import cmd_migrate

    cmd_migrate(None)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env["PUBLIC_BASE_URL"] = base
    print(f"DocG demo — PostgreSQL {config.database_url}\n            Redis {config.redis_url}")
    processes = start_processes(env, port, demo_dir / "logs")
    try:
        _wait(lambda: _up(base), 60, "the web process")
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
        print(f"Emails:    {demo_dir / 'mail'}  (the approval request, then the contract to ana@acme.example)")
        print(f"Webhook:   {demo_dir / 'webhooks.jsonl'}  (signed with X-DocG-Signature)")
        print(f"Run state: {base}/api/v1/executions/{execution_id}  (headers: Authorization: Bearer {token}, "
              f"X-Organization-ID: {organization.id})")
        if keep:
            print("\nweb and worker keep running; Ctrl-C to stop.")
            processes[0].wait()
        return 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        receiver.shutdown()
        mail.stop()
