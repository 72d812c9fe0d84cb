"""The google-forms trigger: one form response, answers keyed by question title.

Endpoints: `GET https://forms.googleapis.com/v1/forms/{formId}` (the items,
to name each questionId by its title; grid rows are "Title [Row]") and
`GET .../v1/forms/{formId}/responses/{responseId}` (a FormResponse:
`answers` maps questionId to `textAnswers.answers[].value` or
`fileUploadAnswers.answers[]`)
(https://developers.google.com/forms/api/reference/rest/v1/forms,
https://developers.google.com/forms/api/reference/rest/v1/forms.responses).

The output has `answers` ({title: value}) and each answer again at top
level under a slug of its title ("E-mail do cliente" -> `e_mail_do_cliente`),
so later nodes can write `{{step.form.e_mail_do_cliente}}`. A question with
one answer gives a string, several (checkboxes) give a list.
"""
import dataclasses
import re
import unicodedata
import uuid

from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.errors import InvalidConfig
from integrations.google.client import GoogleApi, quoted
from integrations.google.drive import FORM, lister
from integrations.google.render import resolved

RESERVED = frozenset({"form_id", "form_title", "response_id", "respondent_email", "submitted_at", "created_at",
                      "answers", "answers_by_id", "total_score"})


def slug(title):
    text = unicodedata.normalize("NFKD", str(title)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_") or "answer"


@dataclasses.dataclass
class Question:
    question_id: str
    title: str


@dataclasses.dataclass
class Form:
    form_id: str
    title: str
    questions: list

    @classmethod
    def of(cls, body):
        questions = []
        for item in body.get("items") or []:
            title = item.get("title") or item.get("itemId", "")
            question = (item.get("questionItem") or {}).get("question")
            if question:
                questions.append(Question(question["questionId"], title))
            for row in (item.get("questionGroupItem") or {}).get("questions") or []:
                row_title = (row.get("rowQuestion") or {}).get("title", "")
                questions.append(Question(row["questionId"], f"{title} [{row_title}]" if row_title else title))
        info = body.get("info") or {}
        return cls(body.get("formId", ""), info.get("title") or info.get("documentTitle", ""), questions)


def answer_value(answer):
    if "textAnswers" in answer:
        values = [a.get("value", "") for a in answer["textAnswers"].get("answers") or []]
    elif "fileUploadAnswers" in answer:
        values = [{"file_id": a.get("fileId"), "name": a.get("fileName"), "mime_type": a.get("mimeType")}
                  for a in answer["fileUploadAnswers"].get("answers") or []]
    else:
        values = []
    return values[0] if len(values) == 1 else values


class Forms(GoogleApi):
    api = "forms"

    def form(self, form_id):
        return Form.of(self.get(f"forms/{quoted(form_id)}", "read the form", not_found="forms.form_not_found",
                                forbidden="drive.insufficient_permissions").json())

    def response(self, form_id, response_id):
        return self.get(f"forms/{quoted(form_id)}/responses/{quoted(response_id)}", "read the form response",
                        not_found="forms.response_not_found").json()


def flatten(form, response):
    """Return the trigger output for one FormResponse of `form`."""
    titles = {q.question_id: q.title for q in form.questions}
    by_id = {qid: answer_value(answer) for qid, answer in (response.get("answers") or {}).items()}
    answers = {titles.get(qid, qid): value for qid, value in by_id.items()}
    output = {}
    for title, value in answers.items():
        output.setdefault(slug(title), value)
    output = {key: value for key, value in output.items() if key not in RESERVED}
    output.update({"form_id": form.form_id, "form_title": form.title, "response_id": response.get("responseId"),
                   "respondent_email": response.get("respondentEmail"),
                   "submitted_at": response.get("lastSubmittedTime"), "created_at": response.get("createTime"),
                   "answers": answers, "answers_by_id": by_id})
    if "totalScore" in response:
        output["total_score"] = response["totalScore"]
    return output


class GoogleFormsTrigger(Action):
    """Fetch the form response that started the run."""

    key = "google-forms"
    scopes = ("https://www.googleapis.com/auth/forms.responses.readonly",)
    name = "Google Forms response"
    phase = "trigger"
    description = "Read one Google Forms response (by default {{trigger.response_id}}) and its answers by title."
    fields = {"connection_id": {"type": "string"}, "form_id": {"type": "string", "dynamic": "forms"},
              "response_id": {"type": "string", "default": "{{trigger.response_id}}"}}
    outputs = ("response_id", "answers", "respondent_email", "submitted_at")
    endpoints = ("GET https://forms.googleapis.com/v1/forms/{formId}",
                 "GET https://forms.googleapis.com/v1/forms/{formId}/responses/{responseId}")

    def check(self, config, ctx, node_id):
        handle = handle_for(config.get("connection_id"), ctx.organization_id, ctx.settings)
        if not config.get("form_id"):
            raise InvalidConfig("Choose a form for this step.", "form_id missing", code="missing_required_field")
        if not config.get("response_id", "{{trigger.response_id}}"):
            raise InvalidConfig("Say which response to read.", "response_id empty", code="missing_required_field")
        if resolved(config["form_id"]):
            correlation_id = getattr(ctx, "correlation_id", None) or f"preflight-{uuid.uuid4()}"
            Forms.for_connection(handle, correlation_id).form(config["form_id"])
        return []

    def run(self, ctx):
        form_id = ctx.config.get("form_id")
        response_id = ctx.config.get("response_id") or ctx.run.get("trigger", {}).get("response_id")
        if not form_id or not response_id:
            raise InvalidConfig("The form and the response to read are required.",
                                f"form_id={form_id!r} response_id={response_id!r}", code="missing_required_field")
        forms = Forms.for_connection(ctx.connection(), ctx.correlation_id)
        return Result(output=flatten(forms.form(form_id), forms.response(form_id, response_id)))


def questions(handle, params):
    """Dynamic data: the questions of `params["form_id"]`."""
    if not params.get("form_id"):
        raise InvalidConfig("Choose a form first.", "form_id parameter missing", code="missing_required_field")
    form = Forms.for_connection(handle, f"dynamic-{uuid.uuid4()}").form(params["form_id"])
    return [{"value": q.question_id, "label": q.title, "key": slug(q.title)} for q in form.questions]


forms = lister(FORM)
