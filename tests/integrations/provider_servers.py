"""Local servers that speak the ClickSign (API 3.0) and ZapSign (API v1) APIs.

Each fake keeps just enough state to answer the way the provider does (ids,
statuses, the provider's validation errors and error bodies) and records
every request, so a test can check what our client put on the wire. They
also build the webhooks the provider would send about their own state.
"""
import base64
import binascii
import dataclasses
import datetime
import hashlib
import hmac
import json
import re
import uuid

from werkzeug import Response
from werkzeug.datastructures import Headers

JSONAPI = "application/vnd.api+json"
NOW = "2024-05-02T10:15:00.000-03:00"


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    headers: Headers
    body: object
    args: dict = dataclasses.field(default_factory=dict)


def reply(payload, status=200, content_type="application/json"):
    return Response("" if payload is None else json.dumps(payload, ensure_ascii=False), status=status,
                    content_type=content_type)


class FakeProvider:
    prefix = ""

    files_prefix = ""

    def __init__(self, httpserver, token):
        self.server, self.token = httpserver, token
        self.requests = []
        self.files = {}
        self.downloads, self.fail_downloads = 0, 0
        httpserver.expect_request(re.compile("^" + re.escape(self.prefix) + "/")).respond_with_handler(self._handle)
        httpserver.expect_request(re.compile("^" + re.escape(self.files_prefix) + "/")).respond_with_handler(
            self._download)

    def file_url(self, name, content):
        """Serve `content` at a pre-signed-looking link (the provider's file storage)."""
        self.files[name] = content
        return self.server.url_for(f"{self.files_prefix}/{name}") + f"?X-Amz-Expires=300&n={len(self.requests)}"

    def _download(self, request):
        """The storage behind the links: needs no credentials; the first `fail_downloads` answer expired."""
        self.downloads += 1
        if request.headers.get("Authorization"):
            return Response("<Error><Code>InvalidArgument</Code></Error>", status=400, content_type="application/xml")
        if self.downloads <= self.fail_downloads:
            return Response("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                            status=403, content_type="application/xml")
        name = request.path[len(self.files_prefix) + 1:]
        if name not in self.files:
            return Response("<Error><Code>NoSuchKey</Code></Error>", status=404, content_type="application/xml")
        return Response(self.files[name], status=200, content_type="application/pdf")

    @property
    def base_url(self):
        return self.server.url_for(self.prefix)

    def calls(self):
        return [(seen.method, seen.path) for seen in self.requests]

    def _handle(self, request):
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = Seen(request.method, request.path[len(self.prefix):], Headers(request.headers), body,
                    dict(request.args))
        self.requests.append(seen)
        return self.route(seen)


class FakeClickSign(FakeProvider):
    """ClickSign's Envelope API: envelopes, documents, signers, requirements."""

    prefix = "/api/v3"
    files_prefix = "/cs-files"

    def __init__(self, httpserver, token="cs-access-token"):
        super().__init__(httpserver, token)
        self.envelopes = {}
        self.failures = {}
        self.created = {}

    def refuse(self, kind, nth, status, detail, pointer=None):
        """Make the nth creation of `kind` fail the way ClickSign refuses it."""
        self.failures[(kind, nth)] = (status, detail, pointer)

    @staticmethod
    def error(status, detail, pointer=None, code="bad_request"):
        item = {"code": code, "status": status, "detail": detail}
        if pointer:
            item["source"] = {"pointer": pointer}
        return reply({"errors": [item]}, status, JSONAPI)

    def resource(self, kind, id_, attributes, path):
        return {"id": id_, "type": kind, "links": {"self": f"https://sandbox.clicksign.com/api/v3{path}"},
                "attributes": attributes}

    def route(self, seen):
        if seen.headers.get("Authorization") != self.token:
            return reply({"errors": [{"code": "unauthorized", "status": 401, "title": "Não autorizado",
                                      "detail": "Access Token inválido"}]}, 401, JSONAPI)
        if seen.method in ("POST", "PATCH") and seen.headers.get("Content-Type") != JSONAPI:
            return self.error(415, f"Content-Type deve ser {JSONAPI}", code="unsupported_media_type")
        parts = seen.path.strip("/").split("/")
        if parts[0] != "envelopes":
            return self.error(404, "Rota não encontrada", code="not_found")
        if len(parts) == 1 and seen.method == "POST":
            return self.create_envelope(seen)
        envelope = self.envelopes.get(parts[1])
        if envelope is None:
            return self.error(404, f"O registro identificado por {parts[1]} não pôde ser encontrado", code="not_found")
        handler = {(2, "PATCH"): self.update_envelope, (2, "DELETE"): self.delete_envelope,
                   (3, "POST"): self.create_child, (3, "GET"): self.list_children,
                   (4, "PATCH"): self.update_document, (4, "GET"): self.get_document,
                   (5, "GET"): self.document_events}.get((len(parts), seen.method))
        return handler(seen, envelope, parts) if handler else self.error(405, "Método não permitido")

    def data(self, seen, kind):
        data = (seen.body or {}).get("data") if isinstance(seen.body, dict) else None
        if not isinstance(data, dict) or data.get("type") != kind:
            return None, self.error(400, f"type deve ser igual a {kind}", "/data/type")
        return data, None

    def create_envelope(self, seen):
        data, problem = self.data(seen, "envelopes")
        if problem:
            return problem
        attributes = data.get("attributes") or {}
        if attributes.get("locale", "pt-BR") not in ("pt-BR", "en-US"):
            return self.error(400, "locale deve estar em: pt-BR, en-US", "/data/attributes/locale")
        if attributes.get("remind_interval", 1) not in (1, 2, 3, 7, 14):
            return self.error(400, "remind_interval deve estar em: 1, 2, 3, 7, 14", "/data/attributes/remind_interval")
        id_ = str(uuid.uuid4())
        self.envelopes[id_] = {"id": id_, "attributes": {**attributes, "status": "draft", "created": NOW,
                                                          "modified": NOW},
                               "documents": {}, "signers": {}, "requirements": [], "notifications": []}
        return reply({"data": self.resource("envelopes", id_, self.envelopes[id_]["attributes"],
                                            f"/envelopes/{id_}")}, 201, JSONAPI)

    def create_child(self, seen, envelope, parts):
        kind = parts[2]
        data, problem = self.data(seen, kind)
        if problem:
            return problem
        self.created[kind] = self.created.get(kind, 0) + 1
        if (kind, self.created[kind]) in self.failures:
            status, detail, pointer = self.failures[(kind, self.created[kind])]
            return self.error(status, detail, pointer, code="100")
        attributes = dict(data.get("attributes") or {})
        if kind != "notifications" and envelope["attributes"]["status"] != "draft":
            return self.error(422, "O envelope não está em rascunho", code="100")
        if kind == "documents":
            match = re.fullmatch(r"data:([\w.+/-]+);base64,(.+)", attributes.pop("content_base64", "") or "")
            try:
                content = base64.b64decode(match.group(2), validate=True) if match else None
            except binascii.Error:
                content = None
            if content is None or not attributes.get("filename"):
                return self.error(422, "content_base64 - formato inválido", "/data/attributes/content_base64",
                                  code="100")
            attributes.update(status="draft", content=content, mime=match.group(1))
        elif kind == "signers" and not (attributes.get("name") and attributes.get("email")):
            return self.error(422, "email - não pode ficar em branco", "/data/attributes/email", code="100")
        elif kind == "signers" and not isinstance(attributes.get("group", 1), int):
            return self.error(422, "group - deve ser um número inteiro", "/data/attributes/group", code="100")
        elif kind == "requirements":
            links = data.get("relationships") or {}
            document = ((links.get("document") or {}).get("data") or {}).get("id")
            signer = ((links.get("signer") or {}).get("data") or {}).get("id")
            if document not in envelope["documents"] or signer not in envelope["signers"]:
                return self.error(422, "documento e signatário devem pertencer ao envelope", code="100")
            attributes.update(document=document, signer=signer)
        elif kind == "notifications":
            if envelope["attributes"]["status"] != "running":
                return self.error(422, "O envelope precisa estar em andamento", code="100")
            envelope["notifications"].append(attributes)
            envelope.setdefault("notified", []).append(self.active_group(envelope["id"]))
            return reply(None, 201, JSONAPI)
        id_ = str(uuid.uuid4())
        if kind == "requirements":
            envelope["requirements"].append({"id": id_, **attributes})
        else:
            envelope[kind][id_] = attributes
        shown = {k: v for k, v in attributes.items() if k not in ("content", "mime")}
        return reply({"data": self.resource(kind, id_, shown, f"/envelopes/{envelope['id']}/{kind}/{id_}")},
                     201, JSONAPI)

    def active_group(self, envelope_id):
        """E-mails of the signers ClickSign notifies now: the lowest `group` (all when none is set)."""
        signers = self.envelopes[envelope_id]["signers"].values()
        groups = [s.get("group") or 1 for s in signers]
        return [s["email"] for s in signers if (s.get("group") or 1) == min(groups, default=1)]

    def update_envelope(self, seen, envelope, parts):
        data, problem = self.data(seen, "envelopes")
        if problem:
            return problem
        if data.get("id") != envelope["id"]:
            return self.error(400, "id deve ser igual ao da URL", "/data/id")
        if (data.get("attributes") or {}).get("status") == "running":
            for signer_id in envelope["signers"]:
                actions = {r["action"] for r in envelope["requirements"] if r["signer"] == signer_id}
                if not envelope["documents"] or not {"agree", "provide_evidence"} <= actions:
                    return self.error(422, "Cada signatário precisa de requisitos de qualificação e autenticação",
                                      code="100")
            for document in envelope["documents"].values():
                document["status"] = "running"
        envelope["attributes"].update(data.get("attributes") or {})
        return reply({"data": self.resource("envelopes", envelope["id"], envelope["attributes"],
                                            f"/envelopes/{envelope['id']}")}, 200, JSONAPI)

    def delete_envelope(self, seen, envelope, parts):
        if envelope["attributes"]["status"] != "draft":
            return self.error(422, "Somente envelopes em rascunho podem ser excluídos", code="100")
        del self.envelopes[envelope["id"]]
        return reply(None, 204, JSONAPI)

    def list_children(self, seen, envelope, parts):
        items = envelope.get(parts[2]) if parts[2] in ("documents", "signers") else None
        if items is None:
            return self.error(404, "Rota não encontrada", code="not_found")
        data = [self.resource(parts[2], id_, {k: v for k, v in attrs.items() if k not in ("content", "mime")},
                              f"/envelopes/{envelope['id']}/{parts[2]}/{id_}") for id_, attrs in items.items()]
        return reply({"data": data, "meta": {"record_count": len(data)}}, 200, JSONAPI)

    def update_document(self, seen, envelope, parts):
        document = envelope["documents"].get(parts[3]) if parts[2] == "documents" else None
        if document is None:
            return self.error(404, f"O registro identificado por {parts[3]} não pôde ser encontrado", code="not_found")
        data, problem = self.data(seen, "documents")
        if problem:
            return problem
        wanted = (data.get("attributes") or {}).get("status")
        if wanted not in ("canceled", "closed") or document["status"] != "running":
            return self.error(422, f"status não pode mudar de {document['status']} para {wanted}", code="100")
        document["status"] = wanted
        return reply({"data": self.resource("documents", parts[3], {"status": wanted},
                                            f"/envelopes/{envelope['id']}/documents/{parts[3]}")}, 200, JSONAPI)

    def document_id(self, envelope_id):
        return next(iter(self.envelopes[envelope_id]["documents"]))

    def signed_pdf(self, envelope_id):
        return f"%PDF-1.7\n% ClickSign signed copy of {self.document_id(envelope_id)}\n%%EOF\n".encode()

    def close(self, envelope_id):
        """Close the envelope as auto_close does after the last signature."""
        envelope = self.envelopes[envelope_id]
        envelope["attributes"]["status"] = "closed"
        for document in envelope["documents"].values():
            document["status"] = "closed"
        envelope.setdefault("events", []).append({"name": "close", "data": {}, "created": NOW})

    def get_document(self, seen, envelope, parts):
        document = envelope["documents"].get(parts[3]) if parts[2] == "documents" else None
        if document is None:
            return self.error(404, f"O registro identificado por {parts[3]} não pôde ser encontrado", code="not_found")
        links = {"self": f"https://sandbox.clicksign.com/api/v3/envelopes/{envelope['id']}/documents/{parts[3]}",
                 "files": {"original": self.file_url(f"{parts[3]}.pdf", b"%PDF-1.7 original")}}
        if document["status"] == "closed":
            links["files"]["signed"] = self.file_url(f"{parts[3]}-signed.pdf", self.signed_pdf(envelope["id"]))
            links["files"]["ziped"] = self.file_url(f"{parts[3]}.zip", b"PK")
        shown = {k: v for k, v in document.items() if k not in ("content", "mime")}
        return reply({"data": {"id": parts[3], "type": "documents", "attributes": shown, "links": links}}, 200,
                     JSONAPI)

    def document_events(self, seen, envelope, parts):
        if parts[2] != "documents" or parts[4] != "events" or parts[3] not in envelope["documents"]:
            return self.error(404, "Rota não encontrada", code="not_found")
        events = [{"name": "upload", "data": {}, "created": NOW}, *envelope.get("events", [])]
        data = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{parts[3]}:{i}")), "type": "events",
                 "attributes": {"name": e["name"], "data": e["data"], "created": e["created"]}}
                for i, e in enumerate(events)]
        return reply({"data": data}, 200, JSONAPI)

    def webhook(self, envelope_id, name, secret, *, signer_email=None, occurred_at=NOW):
        """Return (headers, raw body) of the webhook ClickSign posts for a document event."""
        envelope = self.envelopes[envelope_id]
        envelope.setdefault("events", []).append({"name": name, "data": {"signer": signer_email},
                                                  "created": occurred_at})
        if name == "sign":
            envelope.setdefault("signed_by", set()).add(signer_email)
            everyone = {s["email"] for s in envelope["signers"].values()}
            if envelope["attributes"].get("auto_close") and everyone <= envelope["signed_by"]:
                self.close(envelope_id)
        document_id, document = next(iter(envelope["documents"].items()))
        signers = [{"key": key, "email": s["email"], "name": s["name"], "auths": ["email"], "sign_as": "sign",
                    "created_at": NOW} for key, s in envelope["signers"].items()]
        data = {"account": {"key": "18ccd207-58b8-410f-a73e-585a4109a483"}}
        if signer_email:
            data["signer"] = next(s for s in signers if s["email"] == signer_email)
        if name == "refusal":
            data["refusal"] = {"reasons": ["Conteúdo do documento"], "comment": "O valor está diferente do combinado"}
        payload = {"event": {"name": name, "data": data, "occurred_at": occurred_at}, "document": {
            "key": document_id, "account_key": "f9d9b699-fa73-4949-b8c5-c45df202744b",
            "path": f"/{document['filename']}", "filename": document["filename"], "uploaded_at": NOW,
            "updated_at": NOW, "finished_at": None, "deadline_at": envelope["attributes"].get("deadline_at"),
            "status": document["status"], "auto_close": True, "locale": "pt-BR", "metadata": document["metadata"],
            "sequence_enabled": False, "signable_group": None, "remind_interval": 3, "block_after_refusal": False,
            "downloads": {"original_file_url": f"/2024/05/02/{document['filename']}"}, "template": None,
            "signers": signers, "events": [], "attachments": [], "links": {"self": f"/{document_id}"}}}
        body = json.dumps(payload).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", "Accept": "application/json", "Event": name,
                "Content-Hmac": f"sha256={digest}"}, body


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


def in_days(days):
    return datetime.datetime(2024, 5, 2, 13, 15, tzinfo=datetime.timezone.utc) + datetime.timedelta(days=days)
