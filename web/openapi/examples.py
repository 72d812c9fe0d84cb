"""Examples for the document, taken from the seeds (testing-guide-v2.md, F2-F10)."""
UUID = "3f2b8c1e-5a4d-4e2f-9b1a-0c6d7e8f9a01"
EXECUTION = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

ISSUE = {"code": "template.large_file", "domain": "template",
         "message_human": "The template is larger than 10 MB; rendering may be slow.",
         "message_tech": "Template size: 15MB", "node_id": UUID, "severity": "warning"}
PREFLIGHT = {"can_execute": True, "blocking": [], "warnings": [ISSUE], "recommended_actions": [],
             "groups": {"template": [ISSUE]}}
SSE_HEALTH = {"status": "healthy", "redis": "connected", "mode": "streams"}
SSE_UNHEALTHY = {"status": "unhealthy", "redis": "disconnected", "mode": "streams"}
LOGS = {"logs": [{"id": 41, "execution_id": EXECUTION, "step_id": UUID, "timestamp": "2025-12-23T10:30:00.000Z",
                  "level": "error", "domain": "step", "message_human": "Could not generate the document",
                  "message_key": None, "message_params": None,
                  "message_tech": "Template not found: uuid", "details_tech": "Template not found: uuid",
                  "correlation_id": UUID},
                 {"id": 42, "execution_id": EXECUTION, "step_id": UUID, "timestamp": "2025-12-23T10:30:02.000Z",
                  "level": "ok", "domain": "step", "message_human": "“contract” completed.",
                  "message_key": "step.completed", "message_params": {"label": "contract"},
                  "message_tech": "node local-docx in 812 ms", "details_tech": "node local-docx in 812 ms",
                  "correlation_id": UUID}],
        "has_more": False, "next_cursor": None}
AUDIT = {"events": [{"id": 7, "organization_id": UUID, "timestamp": "2025-12-23T10:30:00.000Z",
                     "created_at": "2025-12-23T10:30:00.000Z", "actor_type": "user", "actor_id": "user@example.com",
                     "action": "execution.started", "target_type": "execution", "target_id": EXECUTION,
                     "execution_id": EXECUTION, "correlation_id": UUID, "hash": "9f…",
                     "metadata": {"workflow_name": "Contract Generation", "trigger_source": "hubspot"}}],
         "has_more": False, "next_cursor": None}
STEPS = {"steps": [{"id": UUID, "execution_id": EXECUTION, "node_id": UUID, "step_index": 2, "position": 2,
                    "node_type": "local-docx", "label": "contract", "phase": "render", "status": "failure",
                    "attempt": 1, "error_code": "template.not_found",
                    "error_human": "Could not generate the document. Check that the template exists.",
                    "error_tech": "TemplateNotFoundError: Template ID 'uuid' not found in organization",
                    "data_in": {}, "data_out": None, "started_at": "2025-12-23T10:30:00.000Z",
                    "completed_at": "2025-12-23T10:30:05.000Z", "duration_ms": 5000}]}
RESUME = {"approved": True, "changes": {"recipient_email": "new@example.com"}}
RETRY = {"trigger_data": {"deal_id": "123", "client_name": "Acme"}, "from_step": 3}
DECISION_ANSWER = {"success": True, "execution_status": "running", "decision": "approved",
                   "approver": "ana@example.com"}
WORKFLOW = {"name": "Contract Generation", "nodes": [
    {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name"]}},
    {"node_type": "local-docx", "label": "contract", "config": {"template_id": UUID, "pdf": True}},
    {"node_type": "email", "label": "send", "config": {"to": ["{{trigger.email}}"], "subject": "Your contract"}}]}
EVENT = {"schema_version": 1, "event_id": UUID, "event_type": "step.completed",
         "timestamp": "2025-12-23T10:30:00.000Z", "execution_id": EXECUTION, "workflow_id": UUID,
         "organization_id": UUID, "correlation_id": UUID, "status": "running", "progress": 45,
         "current_step": {"index": 2, "label": "Generate Document", "node_id": UUID},
         "data": {"step_id": UUID, "document_id": UUID}}
SSE = ("retry: 3000\n\nid: 1766485800000-0\nevent: step.completed\ndata: "
       '{"schema_version": 1, "event_type": "step.completed", "status": "running", "progress": 45, "...": "..."}\n\n'
       ": heartbeat\n\n")
