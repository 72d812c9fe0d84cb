"""GET /audit filters by target (a workflow's, a template's history) and pages by id."""

UP = "CREATE INDEX audit_events_org_target ON audit_events (organization_id, target_type, target_id, id);"
DOWN = "DROP INDEX IF EXISTS audit_events_org_target;"  # 0081 down rebuilds the table without it


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
