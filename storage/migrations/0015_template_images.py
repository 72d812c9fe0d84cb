"""Named images stored with a template (a logo, a signature) for `template_image()`.

Images belong to the template, not to one of its versions: replacing the
template's file keeps them, and a render uses the images stored at the time.
"""

UP = """
CREATE TABLE template_images (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id),
    template_id uuid NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
    content_type text NOT NULL,
    content bytea NOT NULL,
    size integer NOT NULL,
    sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (template_id, name)
);
CREATE INDEX template_images_org ON template_images (organization_id);
"""

DOWN = """
DROP TABLE IF EXISTS template_images;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
