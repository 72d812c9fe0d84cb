"""Log rows carry a language-neutral message key and its params.

`message_human` keeps the English text, so rows written before (and by the
previous release, which fills neither column) are still served as stored.
Additive only (nullable columns).
"""

UP = """
ALTER TABLE execution_logs ADD COLUMN message_key text;
ALTER TABLE execution_logs ADD COLUMN message_params jsonb;
"""

DOWN = """
ALTER TABLE execution_logs DROP COLUMN IF EXISTS message_params;
ALTER TABLE execution_logs DROP COLUMN IF EXISTS message_key;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
