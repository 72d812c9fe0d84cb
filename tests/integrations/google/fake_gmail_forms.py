"""The Forms and Gmail parts of the fake Google server (mixed into FakeGoogle).

Forms serves a form and its responses; Gmail decodes the raw MIME a message
or a draft carries and keeps it, so tests read what would have been sent.
"""
import base64
import email
import email.policy
import uuid

from tests.integrations.google.fake_wire import api_error, reply


class FormsRoutes:
    """`GET /v1/forms/{id}` and `/responses/{id}` over `self.forms`."""

    def get_form(self, seen, form_id):
        if form_id in self.denied:
            return api_error(403, "PERMISSION_DENIED", "The caller does not have permission")
        if form_id not in self.forms:
            return api_error(404, "NOT_FOUND", "Requested entity was not found.")
        return reply(self.forms[form_id]["form"])

    def get_response(self, seen, form_id, response_id):
        response = self.forms.get(form_id, {}).get("responses", {}).get(response_id)
        return reply(response) if response else api_error(404, "NOT_FOUND", "Requested entity was not found.")


class GmailRoutes:
    """`users.messages.send` and `users.drafts.create` into `self.sent` / `self.drafts`."""

    def message_of(self, raw):
        if not raw:
            return None, api_error(400, "INVALID_ARGUMENT", "'raw' RFC822 payload message string or uploading "
                                                            "message via /upload/* URL required")
        message = email.message_from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)),
                                           policy=email.policy.default)
        return (None, api_error(400, "INVALID_ARGUMENT", "Invalid To header")) if not message["To"] else (message, None)

    def send(self, seen):
        message, problem = self.message_of((seen.json() or {}).get("raw"))
        if problem:
            return problem
        message_id = uuid.uuid4().hex[:16]
        self.sent.append(message)
        return reply({"id": message_id, "threadId": message_id, "labelIds": ["SENT"]})

    def create_draft(self, seen):
        """users.drafts.create: the raw MIME inside `message`; the Draft resource back."""
        message, problem = self.message_of(((seen.json() or {}).get("message") or {}).get("raw"))
        if problem:
            return problem
        draft_id, message_id = f"r{uuid.uuid4().int % 10 ** 19}", uuid.uuid4().hex[:16]
        self.drafts[draft_id] = message
        return reply({"id": draft_id, "message": {"id": message_id, "threadId": message_id, "labelIds": ["DRAFT"]}})
