"""The one wiring point: build the Falcon app and hand collaborators in."""
import falcon

from actors.payments import apply_stripe_delivery
from storage.bootstrap import redis_client
from web import errors, ops, validation
from web.auth import AuthMiddleware
from web.middleware import DatabaseConnection, Localize, RequestId, SecurityHeaders
from web.resources import (approvals, apps, connections, contract, control, documents, executions, health, history,
                           mail, notfound, pages, sandbox, streams, template_images, templates, workflows)
from web.resources import organization as organization_resource
from web.webhooks.signature import SignatureWebhook
from web.webhooks.stripe import StripeWebhook
from web.webhooks.triggers import TriggerWebhook
from web.sse import Admission, StreamHub, reader_timeout


def create_app(services=None, *, broker=None):
    """Return the WSGI app. Defaults come from the actors' process setup."""
    if services is None or broker is None:
        from actors import broker as broker_module

        services = services or broker_module.services
        broker = broker or broker_module.broker
    settings = services.settings
    block_ms = settings.sse_hub_block_ms
    hub = StreamHub(lambda: redis_client(settings.redis_url, "sse", single_connection_client=True,
                                         socket_timeout=reader_timeout(block_ms)), services.redis,
                    block_ms=block_ms, buffer=settings.sse_client_buffer)
    admission = Admission(settings.sse_stream_limit)
    sse = (hub, services.redis, settings.sse_heartbeat_seconds, admission, settings.sse_retry_ms)

    validation.BODY_READ_TIMEOUT = settings.body_read_timeout_seconds
    app = falcon.App(middleware=[RequestId(), SecurityHeaders(), DatabaseConnection(),
                                 AuthMiddleware(settings.secret_key), Localize()],
                     sink_before_static_route=False)  # /api/docs assets before the catch-all 404 sink
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)

    api = "/api/v1"
    app.add_route("/health", health.Health(services.redis, broker))
    app.add_route("/metrics", ops.Metrics(broker, hub, admission))
    app.add_route(f"{api}/sse/health", health.SseHealth(services.redis))
    app.add_route(f"{api}/organization", organization_resource.Organization())
    app.add_route(f"{api}/workflows", workflows.Workflows())
    app.add_route(f"{api}/workflows/{{workflow_id}}", workflows.Workflow())
    app.add_route(f"{api}/workflows/{{workflow_id}}/activate", workflows.WorkflowActivation())
    app.add_route(f"{api}/workflows/{{workflow_id}}/executions", workflows.WorkflowExecutions())
    app.add_route(f"{api}/workflows/{{workflow_id}}/runs", workflows.WorkflowRuns())
    app.add_route(f"{api}/executions/{{execution_id}}", executions.Execution())
    app.add_route(f"{api}/executions/{{execution_id}}/steps", executions.ExecutionSteps())
    app.add_route(f"{api}/workflows/{{workflow_id}}/preflight", control.WorkflowPreflight())
    app.add_route(f"{api}/executions/{{execution_id}}/logs", history.ExecutionLogs())
    app.add_route(f"{api}/executions/{{execution_id}}/preflight", control.ExecutionPreflight())
    app.add_route(f"{api}/executions/{{execution_id}}/resume", control.ExecutionResume())
    app.add_route(f"{api}/executions/{{execution_id}}/cancel", control.ExecutionCancel())
    app.add_route(f"{api}/executions/{{execution_id}}/retry", control.ExecutionRetry())
    app.add_route(f"{api}/executions/{{execution_id}}/retry-preview", control.ExecutionRetryPreview())
    app.add_route(f"{api}/executions/{{execution_id}}/request-signature", control.ExecutionRequestSignature())
    app.add_route(f"{api}/executions/{{execution_id}}/documents", documents.ExecutionDocuments())
    app.add_route(f"{api}/executions/{{execution_id}}/documents/{{document_id}}", documents.ExecutionDocument())
    app.add_route(f"{api}/executions/{{execution_id}}/audit", history.ExecutionAudit())
    app.add_route(f"{api}/executions/{{execution_id}}/stream-token", streams.StreamToken(settings.secret_key))
    app.add_route(f"{api}/sse/executions/{{execution_id}}/stream", streams.ExecutionStream(*sse))
    app.add_route(f"{api}/sse/organizations/stream", streams.OrganizationStream(*sse))
    app.add_route(f"{api}/templates", templates.Templates())
    app.add_route(f"{api}/templates/{{template_id}}", templates.Template())
    app.add_route(f"{api}/templates/{{template_id}}/images", template_images.TemplateImages())
    app.add_route(f"{api}/templates/{{template_id}}/images/{{name}}", template_images.TemplateImage())
    app.add_route(f"{api}/connections", connections.Connections())
    app.add_route(f"{api}/connections/{{connection_id}}", connections.Connection())
    app.add_route(f"{api}/connections/{{connection_id}}/test", connections.ConnectionTest(settings))
    app.add_route(f"{api}/connections/oauth/{{provider}}/start", connections.OAuthStart(settings, services.redis))
    app.add_route(f"{api}/connections/oauth/{{provider}}/callback", connections.OAuthCallback(settings, services.redis))
    app.add_route(f"{api}/apps", apps.Apps())
    app.add_route(f"{api}/apps/{{app_key}}/dynamic/{{provider}}", apps.AppDynamic(settings))
    app.add_route(f"{api}/approvals/{{token}}", approvals.ApprovalLink())
    app.add_route(f"{api}/approvals/{{token}}/decision", approvals.ApprovalDecision())
    app.add_route(f"{api}/approvals/{{token}}/documents/{{document_id}}", approvals.ApprovalDocument())
    app.add_route(f"{api}/approvals/{{token}}/documents/{{document_id}}/pages/{{page}}",
                  approvals.ApprovalDocumentPage())
    signer = f"{api}/sandbox/envelopes/{{envelope_id}}/signers/{{token}}"
    app.add_route(signer, sandbox.SandboxSigner())
    app.add_route(f"{signer}/document", sandbox.SandboxDocument())
    app.add_route(f"{signer}/document/pages/{{page}}", sandbox.SandboxDocumentPage())
    signature_webhook = SignatureWebhook(settings)
    app.add_route(f"{api}/webhooks/signature/{{provider}}", signature_webhook)
    app.add_route(f"{api}/webhooks/signature/{{provider}}/{{connection_id}}", signature_webhook, suffix="connection")
    app.add_route(f"{api}/webhooks/triggers/{{workflow_id}}", TriggerWebhook(settings.webhook_tolerance_seconds))
    stripe_webhook = StripeWebhook(settings, enqueue=apply_stripe_delivery.send)
    app.add_route(f"{api}/webhooks/stripe", stripe_webhook)
    app.add_route(f"{api}/webhooks/stripe/{{connection_id}}", stripe_webhook, suffix="connection")
    app.add_route(f"{api}/audit", history.OrganizationAudit())
    contract.install(app)
    app.add_route("/approvals/{token}", pages.ApprovalPage())
    app.add_route("/runs/{execution_id}", pages.Page("run.html"))
    app.add_route("/static/pages/{name}", pages.PageAsset())
    app.add_route("/sandbox/sign/{envelope_id}/{token}",
                  sandbox.SandboxSigning(pages.LocalizedPage("sign.html", "sign.")))
    app.add_route("/ops/mail", mail.MailList(settings.var_dir))
    app.add_route("/ops/mail/{name}", mail.MailMessage(settings.var_dir))
    # NOTE: Falcon tries routes before sinks, so this only sees paths no route serves.
    app.add_sink(notfound.RouteHint(app._router.find), prefix="/")

    wsgi = ops.mount(app, broker=broker, admin_token=settings.admin_token)
    wsgi.falcon_app, wsgi.hub, wsgi.admission, wsgi.settings = app, hub, admission, settings
    return wsgi
