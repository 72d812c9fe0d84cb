"""Recommended actions (seed F13): what a person can do about an error code."""

ACTION_MAPPINGS = {
    "drive.insufficient_permissions": ("fix_permissions", "Fix permissions", "Grant read access to the file."),
    "permission_denied": ("fix_permissions", "Fix permissions", "Grant the connected account access."),
    "drive.folder_not_found": ("select_folder", "Select folder", "The destination folder no longer exists."),
    "drive.file_not_found": ("edit_step", "Check file", "The Drive file no longer exists or is not shared."),
    "drive.item_not_found": ("edit_step", "Check file", "The generated file is no longer in OneDrive."),
    "drive.no_file": ("edit_step", "Add a save step", "Nothing was saved earlier in the run to share; save the "
                                                    "document first or name the file to share."),
    "storage.invalid_folder": ("select_folder", "Select folder", "Choose a folder inside your storage area."),
    "unresolved_variables": ("map_fields", "Map fields", "Some variables could not be resolved."),
    "template.unmapped_tags": ("map_fields", "Map fields", "The template uses tags with no value."),
    "missing_required_field": ("fill_required", "Fill required fields", "Required fields are empty."),
    "template.not_found": ("select_template", "Select template", "The template no longer exists."),
    "hubspot.object_not_found": ("map_fields", "Check record ID",
                                 "The HubSpot record was not found; check the ID the step uses."),
    "ai.model_not_found": ("select_model", "Select model", "The AI model is not available to this account."),
    "ai.quota_exceeded": ("check_billing", "Check plan", "The AI account has no credit or quota left."),
    "storage.insufficient_permissions": ("fix_permissions", "Fix permissions",
                                         "Grant the storage keys write access to the bucket."),
    "storage.bucket_not_found": ("select_folder", "Select folder", "The bucket does not exist."),
    "stripe.invalid_request": ("edit_step", "Edit step", "Stripe refused a field of this step."),
    "drive.name_conflict": ("select_folder", "Select folder", "A file with that name already exists there."),
    "forms.form_not_found": ("select_form", "Select form",
                             "The form no longer exists or is not shared with the account."),
    "delivery.invalid_email": ("fix_recipients", "Fix recipients", "An email address is invalid."),
    "delivery.no_recipient": ("fix_recipients", "Add recipients", "The email has no recipient."),
    "oauth_expired": ("reconnect_provider", "Reconnect", "The connection expired."),
    "oauth.missing_scope": ("reconnect_provider", "Reconnect",
                            "Sign in again to grant the permission this step needs."),
    "connection_error": ("reconnect_provider", "Check connection", "The service could not be reached."),
    "rate_limit": ("retry", "Try again", "The provider limited requests."),
    "timeout": ("retry", "Try again", "The service took too long to answer."),
    "internal_error": ("retry", "Try again", "An unexpected error stopped the step."),
    "template.invalid": ("fix_template", "Fix template", "Upload a corrected template (PUT /templates/{id}), "
                                                         "then resume the run."),
    "template.render_error": ("fix_template", "Fix template", "A tag of the template fails with this data; fix "
                                                              "the template or the data, then resume the run."),
    "template.unsafe": ("fix_template", "Fix template", "Remove what the template may not do, then resume the run."),
    "template.too_large": ("fix_template", "Fix template", "Make the template produce a smaller document, then "
                                                           "resume the run."),
    "template.timeout": ("fix_template", "Fix template", "Simplify the template's loops, then resume the run."),
    "template.image_missing": ("fix_template", "Upload image", "Store the image with the template "
                                                               "(PUT /templates/{id}/images/{name}), then resume the run."),
    "render.pdf_unavailable": ("contact_admin", "Install LibreOffice", "PDF output needs LibreOffice on the "
                                                                       "workers (make office)."),
    "render.pdf_failed": ("retry", "Try again", "The PDF conversion failed."),
    "signature.documents_unavailable": ("retry", "Download again", "The signed document could not be fetched "
                                                                   "from the provider."),
    "invalid_config": ("edit_step", "Fix the step", "The step's configuration cannot work; correct it and retry."),
    "invalid_data": ("edit_step", "Fix the step", "A value in the step is not valid (for example a malformed ID)."),
    "run.stuck": ("retry", "Retry the run", "The run stopped making progress; check its current step, then retry."),
    "email.unknown_outcome": ("confirm_delivery", "Confirm whether the e-mail was received",
                              "The e-mail may or may not have been sent; check with the recipient, then resume."),
}


def for_codes(issues):
    """Return recommended actions for [(code, node_id)], one per distinct pair."""
    actions, seen = [], set()
    for code, node_id in issues:
        if code not in ACTION_MAPPINGS or (code, node_id) in seen:
            continue
        seen.add((code, node_id))
        action, label, description = ACTION_MAPPINGS[code]
        actions.append({"action": action, "label": label, "description": description,
                        "target_node_id": str(node_id) if node_id else None, "params": {"issue_code": code}})
    return actions


def for_blocking(issues):
    """Recommended actions for the blocking ones of preflight issues (dicts)."""
    return for_codes([(i["code"], i["node_id"]) for i in issues if i["severity"] == "blocking"])
