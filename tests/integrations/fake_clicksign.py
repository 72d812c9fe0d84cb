"""A local server that speaks ClickSign's API 3.0 (see tests/integrations/provider_servers.py)."""
import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid


from tests.integrations.provider_servers import JSONAPI, NOW, FakeProvider, reply


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
