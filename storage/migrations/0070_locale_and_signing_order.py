"""Organizations choose a locale (en, pt-BR); sandbox envelopes sign in order and remind."""

UP = """
ALTER TABLE organizations ADD COLUMN locale text NOT NULL DEFAULT 'en'
    CONSTRAINT organizations_locale_known CHECK (locale IN ('en', 'pt-BR'));
ALTER TABLE sandbox_envelopes ADD COLUMN locale text NOT NULL DEFAULT 'en';
ALTER TABLE sandbox_envelopes ADD COLUMN sender text NOT NULL DEFAULT '';
ALTER TABLE sandbox_envelopes ADD COLUMN sequential boolean NOT NULL DEFAULT false;
ALTER TABLE sandbox_envelopes ADD COLUMN reminder_hours double precision;
"""

DOWN = """
ALTER TABLE sandbox_envelopes DROP COLUMN IF EXISTS locale, DROP COLUMN IF EXISTS sender,
    DROP COLUMN IF EXISTS sequential, DROP COLUMN IF EXISTS reminder_hours;
ALTER TABLE organizations DROP COLUMN IF EXISTS locale;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
