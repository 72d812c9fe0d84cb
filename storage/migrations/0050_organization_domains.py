"""Organizations may list their email domains; preflight warns about recipients outside them."""

UP = "ALTER TABLE organizations ADD COLUMN email_domains jsonb NOT NULL DEFAULT '[]'::jsonb;"
DOWN = "ALTER TABLE organizations DROP COLUMN email_domains;"


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
