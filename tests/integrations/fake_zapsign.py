"""A local server that speaks ZapSign's API v1 (see tests/integrations/provider_servers.py)."""
import base64
import binascii
import json
import re
import uuid

from werkzeug import Response

from tests.integrations.provider_servers import FakeProvider, reply


class FakeZapSign(FakeProvider):
    """ZapSign's API v1: documents with their signers, and refusal."""

    prefix = "/api/v1"
    files_prefix = "/zs-files"

    def __init__(self, httpserver, token="zs-api-token"):
        super().__init__(httpserver, token)
        self.docs = {}
        self.details_gone = False

    def route(self, seen):
        if seen.headers.get("Authorization") != f"Bearer {self.token}":
            return reply({"detail": "Token inválido."}, 401)
        if seen.method == "POST" and seen.headers.get("Content-Type") != "application/json":
            return reply({"detail": "Envie a requisição em JSON."}, 406)
        if (seen.method, seen.path) == ("POST", "/docs/"):
            return self.create_doc(seen.body)
        if (seen.method, seen.path) == ("POST", "/refuse/"):
            return self.refuse(seen.body)
        match = re.fullmatch(r"/docs/([\w-]+)/", seen.path)
        if seen.method == "GET" and match and match.group(1) in self.docs and not self.details_gone:
            return reply(self.detail(match.group(1)))
        match = re.fullmatch(r"/docs/signer-log/([\w-]+)", seen.path)
        if seen.method == "GET" and match and match.group(1) in self.docs:
            if seen.args.get("download_pdf") == "true":
                return Response(self.audit_trail_pdf(match.group(1)), status=200, content_type="application/pdf")
            return reply([{"time": "2024-05-03 12:00:00+00:00", "user": s["email"], "event": "Assinatura",
                           "description": f"Documento assinado por {s['email']}"}
                          for s in self.docs[match.group(1)]["signers"] if s["status"] == "signed"])
        return reply({"detail": "Não encontrado."}, 404)

    def signed_pdf(self, token):
        return f"%PDF-1.7\n% ZapSign signed copy of {token}\n%%EOF\n".encode()

    def audit_trail_pdf(self, token):
        return f"%PDF-1.7\n% ZapSign signer log of {token}\n%%EOF\n".encode()

    def detail(self, token):
        """The document as GET /docs/{token}/ shows it: file links are fresh (60 minutes) on every call."""
        doc = dict(self.docs[token])
        doc["original_file"] = self.file_url(f"{token}.pdf", b"%PDF-1.7 original")
        if doc["status"] == "signed":
            doc["signed_file"] = self.file_url(f"{token}-signed.pdf", self.signed_pdf(token))
        return doc

    def create_doc(self, body):
        if not isinstance(body, dict) or not body.get("name") or not body.get("signers"):
            return reply({"detail": "name e signers são obrigatórios."}, 400)
        files = [key for key in ("url_pdf", "base64_pdf", "url_docx", "base64_docx") if body.get(key)]
        if len(files) != 1:
            return reply({"detail": "Envie um único arquivo (url_pdf, base64_pdf, url_docx ou base64_docx)."}, 400)
        if files[0].startswith("base64"):
            try:
                base64.b64decode(body[files[0]], validate=True)
            except binascii.Error:
                return reply({"detail": "base64 mal formatado."}, 400)
        if any(value is None for value in body.values()):
            return reply({"detail": "Não envie null; use \"\" ou omita o campo."}, 400)
        token = str(uuid.uuid4())
        signers = []
        for signer in body["signers"]:
            if not signer.get("name"):
                return reply({"detail": "signers[].name é obrigatório."}, 400)
            signer_token = str(uuid.uuid4())
            signers.append({"external_id": "", "sign_url": f"https://app.zapsign.com.br/verificar/{signer_token}",
                            "token": signer_token, "status": "new", "name": signer["name"],
                            "lock_name": False, "email": signer.get("email", ""),
                            "lock_email": bool(signer.get("lock_email")), "phone_country": "55", "phone_number": "",
                            "times_viewed": 0, "last_view_at": None, "signed_at": None,
                            "auth_mode": signer.get("auth_mode", "assinaturaTela"), "qualification": "",
                            "order_group": signer.get("order_group")})
        self.docs[token] = {
            "sandbox": False, "external_id": body.get("external_id", ""), "open_id": len(self.docs) + 1,
            "token": token, "name": body["name"], "folder_path": "/", "status": "pending", "rejected_reason": None,
            "lang": body.get("lang", "pt-br"), "original_file": f"https://zapsign.s3.amazonaws.com/pdf/{token}.pdf",
            "signed_file": None, "extra_docs": [], "created_through": "api", "deleted": False, "deleted_at": None,
            "signed_file_only_finished": False, "disable_signer_emails": False,
            "date_limit_to_sign": body.get("date_limit_to_sign"),
            "allow_refuse_signature": bool(body.get("allow_refuse_signature")),
            "signature_order_active": bool(body.get("signature_order_active")),
            "reminder_every_n_days": int(body.get("reminder_every_n_days") or 0),
            "created_at": "2024-05-02T13:15:00.000000Z", "last_update_at": "2024-05-02T13:15:00.000000Z",
            "signers": signers}
        return reply(self.docs[token])

    def refuse(self, body):
        doc = self.docs.get((body or {}).get("doc_token"))
        if doc is None:
            return reply({"detail": "Documento não encontrado."}, 404)
        if doc["status"] != "pending" or not doc["allow_refuse_signature"]:
            return reply({"detail": "O documento precisa estar em curso e permitir recusa."}, 400)
        doc.update(status="refused", rejected_reason=body.get("rejected_reason", ""))
        return reply({"message": "Document successfully refused. Please note: this endpoint is asynchronous, so "
                                 "wait for the final PDFs to be ready via webhooks or check them in a few minutes."})

    def invited(self, token):
        """Who ZapSign has asked to sign now: everyone, or the lowest open order_group when ordered."""
        doc = self.docs[token]
        waiting = [s for s in doc["signers"] if s["status"] not in ("signed", "refused")]
        if doc["signature_order_active"] and waiting:
            first = min(s["order_group"] or 1 for s in waiting)
            waiting = [s for s in waiting if (s["order_group"] or 1) == first]
        return [s["email"] for s in waiting]

    def act(self, token, email, action, at="2024-05-03T12:00:00.000000Z"):
        """Make a signer view, sign or refuse; return the webhook body ZapSign posts."""
        doc = self.docs[token]
        signer = next(s for s in doc["signers"] if s["email"] == email)
        if action in ("doc_signed", "doc_refused") and email not in self.invited(token):
            raise ValueError(f"{email} may not sign yet: the signing order is active")
        extra = {}
        if action == "doc_viewed":
            signer.update(status="link-opened", times_viewed=signer["times_viewed"] + 1, last_view_at=at)
        elif action == "doc_signed":
            signer.update(status="signed", signed_at=at)
            if all(s["status"] == "signed" for s in doc["signers"]):
                doc.update(status="signed", signed_file=self.file_url(f"{token}-signed.pdf", self.signed_pdf(token)))
            extra["signer_who_signed"] = dict(signer)
        elif action == "doc_refused":
            signer["status"] = "refused"
            doc.update(status="refused", rejected_reason="Valores diferentes do combinado")
        doc["last_update_at"] = at
        return json.dumps({"event_type": action, **doc, **extra}).encode()

    def event(self, token, event_type, **fields):
        """Return the body of a document-level webhook (doc_expired, doc_deleted, ...)."""
        return json.dumps({"event_type": event_type, **self.docs[token], **fields}).encode()
