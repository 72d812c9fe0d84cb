"""Errors raised by integrations, each with a code, human text and detail.

`retryable` tells the pipeline whether a later attempt may succeed (the hop
is retried with backoff) or the step fails for good; `review` sends the run
to `needs_review` instead of failing it, for problems a person fixes and
then resumes the run (every `template.*` code: fix the template, upload a
new version, POST /executions/{id}/resume). Codes match the seeds'
recommended-actions table (F13) so preflight and the run state can suggest
what a person should do.
"""

from storage.errors import DescribedError


class IntegrationError(DescribedError):
    """Root of every error a node or provider client raises on purpose."""

    code = "integration.error"
    message_human = "The step could not be completed."
    retryable = False
    review = False

    def __init__(self, message_human=None, message_tech=None, *, code=None, retryable=None, review=None):
        super().__init__(message_human, message_tech, code=code)
        if retryable is not None:
            self.retryable = retryable
        if review is not None:
            self.review = review
        elif self.code.startswith(REVIEW_PREFIX):
            self.review = True


REVIEW_PREFIX = "template."


class InvalidData(IntegrationError):
    """PostgreSQL refused a value the step used (a malformed ID, an impossible date): no retry helps."""

    code = "invalid_data"
    message_human = "A value in this step is not valid (for example a malformed ID)."


class RunStuck(IntegrationError):
    """The reaper re-drove the run REDRIVE_MAX times and it made no progress."""

    code = "run.stuck"
    message_human = "The run stopped making progress and was stopped after repeated attempts to move it on."


class UnknownDelivery(IntegrationError):
    """An e-mail may or may not have left: a person confirms (the node's on_unknown_outcome is review)."""

    code = "email.unknown_outcome"
    message_human = ("The e-mail may or may not have been sent: the attempt that sent it stopped before it could "
                     "record the outcome. Confirm whether it was received, then resume the run.")
    review = True
    run_fields = {"delivery_state": "unknown"}


class InvalidConfig(IntegrationError):
    code = "invalid_config"
    message_human = "The step is not configured correctly."


class MissingRequiredField(InvalidConfig):
    code = "missing_required_field"
    message_human = "Required fields are empty."


class UnresolvedVariables(InvalidConfig):
    code = "unresolved_variables"
    message_human = "Some variables could not be resolved."

    def __init__(self, names):
        self.names = list(names)
        super().__init__(f"Some variables could not be resolved: {', '.join(self.names)}.",
                         "unresolved: " + ", ".join(self.names))


class TemplateError(InvalidConfig):
    """A problem of the template itself: never retried, the run waits in needs_review."""

    code = "template.invalid"
    message_human = "The template could not be used."
    review = True
    #: for the API: {"tag", "message", "where"} when known
    details = None

    def naming(self, template_name):
        """Return this error with the template's name in its human text (once)."""
        if template_name and f"“{template_name}”" not in self.message_human:
            self.message_human = f"Template “{template_name}”: {self.message_human}"
        return self


class TemplateNotFound(TemplateError):
    code = "template.not_found"
    message_human = "The template does not exist or was deleted."


#: the name the template sandbox (integrations/templating.py) uses for the root
TemplateProblem = TemplateError


class TemplateInvalid(TemplateError):
    code = "template.invalid"
    message_human = "The template is not valid: it is not a document or its tags do not parse."


class TemplateUnmappedTags(TemplateError):
    code = "template.unmapped_tags"
    message_human = "The template uses a tag that has no value."


class TemplateUnsafe(TemplateError):
    code = "template.unsafe"
    message_human = "The template tries to reach something outside its data, which is not allowed."


class TemplateTimeout(TemplateError):
    code = "template.timeout"
    message_human = "The template took too long to render; check its loops."


class TemplateTooLarge(TemplateError):
    code = "template.too_large"
    message_human = "The template produces a document larger than allowed; check its loops."


class TemplateRenderError(TemplateError):
    code = "template.render_error"
    message_human = "A tag of the template could not be evaluated."


class TemplateImageMissing(TemplateError):
    code = "template.image_missing"
    message_human = "The template uses an image that is not stored with it."


class TemplateImageInvalid(TemplateError):
    code = "template.image_invalid"
    message_human = "The image must be a PNG, JPEG or GIF of at most 5 MB."


class AuthExpired(IntegrationError):
    code = "oauth_expired"
    message_human = "The connection expired; reconnect the account."


class PermissionDenied(IntegrationError):
    code = "permission_denied"
    message_human = "The account has no permission for this resource."


class RateLimited(IntegrationError):
    code = "rate_limit"
    message_human = "The provider is limiting requests; the step will be retried."
    retryable = True

    def __init__(self, *args, retry_after=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class Unavailable(IntegrationError):
    code = "connection_error"
    message_human = "The service could not be reached; the step will be retried."
    retryable = True


class Timeout(Unavailable):
    code = "timeout"
    message_human = "The service took too long to answer; the step will be retried."


class BadResponse(IntegrationError):
    code = "bad_response"
    message_human = "The service answered with an error."


class OutboundBlocked(IntegrationError):
    """A tenant-chosen address is not one DocG may call (see integrations/outbound.py)."""

    code = "outbound.blocked"
    message_human = "DocG may not call this address."
