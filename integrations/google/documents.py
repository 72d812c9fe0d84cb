"""Google Docs and Slides: read a file's text, replace every `{{tag}}` in it.

Endpoints: Docs `GET /v1/documents/{id}?includeTabsContent=true` and
`POST /v1/documents/{id}:batchUpdate`
(https://developers.google.com/docs/api/reference/rest/v1/documents/batchUpdate,
https://developers.google.com/docs/api/how-tos/merge); Slides
`GET /v1/presentations/{id}` and `POST /v1/presentations/{id}:batchUpdate`
(https://developers.google.com/slides/api/reference/rest/v1/presentations/batchUpdate,
https://developers.google.com/slides/api/guides/merge). Both take
`replaceAllText` requests `{containsText: {text, matchCase}, replaceText}` and
answer `replies[].replaceAllText.occurrencesChanged`.

NOTE: Google splits text into runs wherever the style changes, so a tag
may span runs ("{{client" bold, "_name}}" plain). Tags are found on the
concatenated text of every run, in document order; replaceAllText matches
across runs on Google's side.
"""
import dataclasses
import re

from integrations.google.client import GoogleApi, quoted

TAG = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def text_runs(node):
    """Yield the content of every textRun in a Docs or Slides JSON tree, in order."""
    if isinstance(node, dict):
        run = node.get("textRun")
        if isinstance(run, dict) and isinstance(run.get("content"), str):
            yield run["content"]
        for key, value in node.items():
            if key != "textRun":
                yield from text_runs(value)
    elif isinstance(node, list):
        for item in node:
            yield from text_runs(item)


def tags_in(text):
    """Return {tag as written: tag name} for every {{tag}} in `text`."""
    return {match.group(0): match.group(1) for match in TAG.finditer(text)}


@dataclasses.dataclass
class Replaced:
    file_id: str
    occurrences: int
    requests: int


class _Merge(GoogleApi):
    """What Docs and Slides share: get the text, batchUpdate replaceAllText."""

    collection = ""
    get_params: dict = {}

    def text(self, file_id):
        body = self.get(f"{self.collection}/{quoted(file_id)}", "read the template", not_found="template.not_found",
                        params=self.get_params).json()
        return "".join(text_runs(body))

    def replace_all(self, file_id, replacements):
        """Replace each tag (as written) by its text; return how many were changed."""
        requests = [{"replaceAllText": {"containsText": {"text": tag, "matchCase": True}, "replaceText": value}}
                    for tag, value in replacements.items()]
        if not requests:
            return Replaced(file_id, 0, 0)
        body = self.post(f"{self.collection}/{quoted(file_id)}:batchUpdate", "fill in the tags",
                         not_found="template.not_found", json={"requests": requests}).json()
        changed = sum((reply.get("replaceAllText") or {}).get("occurrencesChanged", 0)
                      for reply in body.get("replies") or [])
        return Replaced(file_id, changed, len(requests))


class Docs(_Merge):
    api = "docs"
    collection = "documents"
    get_params = {"includeTabsContent": "true"}


class Slides(_Merge):
    api = "slides"
    collection = "presentations"
