"""Partition audit_events by month so old trail is dropped a month at a time.

The table keeps its name, columns, sequence, indexes and append-only
triggers: the partitioned table replaces the plain one inside this
migration's transaction and every row is copied across. Row triggers on a
partitioned table are cloned to each partition; TRUNCATE triggers are not,
so `audit_events_ensure_partition()` puts one on every partition it creates.
Retention detaches and drops whole partitions (DDL), never deletes rows;
`audit_checkpoints` keeps each organization's last hash of a dropped
partition so the hash chain still verifies from there.

Indexes other migrations added to audit_events are rebuilt on the
partitioned table (their definitions are read before the swap).

NOTE: the copy holds an exclusive lock on audit_events for its duration;
the previous release's INSERTs wait for it and then succeed (same name and
columns). See docs/operations.md, "Releases".
"""

SAFETY_WAIVERS = {
    "rename": "renames the plain audit_events aside only inside this transaction; the partitioned table that "
              "replaces it has the same name and columns, so the previous release's INSERTs and SELECTs work",
    "drop-table": "drops only the plain copy after its rows moved into the partitioned audit_events",
}

UP = """
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;
ALTER TABLE audit_events RENAME TO audit_events_plain;
ALTER INDEX audit_events_pkey RENAME TO audit_events_plain_pkey;
ALTER INDEX audit_events_exec RENAME TO audit_events_plain_exec;
ALTER INDEX audit_events_org RENAME TO audit_events_plain_org;

CREATE TABLE audit_events (
    id bigint NOT NULL DEFAULT nextval('audit_events_id_seq'),
    organization_id uuid NOT NULL,
    actor_type text NOT NULL CHECK (actor_type IN ('user', 'system', 'webhook')),
    actor_id text,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text,
    execution_id uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    correlation_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    prev_hash text NOT NULL,
    hash text NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX audit_events_exec ON audit_events (execution_id, id);
CREATE INDEX audit_events_org ON audit_events (organization_id, id);

CREATE FUNCTION audit_events_ensure_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', month)::date;
    name text := format('audit_events_p%%s', to_char(first, 'YYYY_MM'));
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %%I PARTITION OF audit_events FOR VALUES FROM (%%L) TO (%%L)',
                       name, first, (first + interval '1 month')::date);
        EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()', name);
    END IF;
    RETURN name;
END $$;

CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();

SELECT audit_events_ensure_partition(month::date)
FROM generate_series(date_trunc('month', coalesce((SELECT min(created_at) FROM audit_events_plain), now())),
                     date_trunc('month', now()) + interval '2 months', interval '1 month') AS month;

INSERT INTO audit_events SELECT * FROM audit_events_plain;
DROP TABLE audit_events_plain;
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();

CREATE TABLE audit_checkpoints (
    organization_id uuid NOT NULL,
    partition text NOT NULL,
    last_id bigint NOT NULL,
    last_hash text NOT NULL,
    dropped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, partition)
);
"""

DOWN = """
DROP TABLE IF EXISTS audit_checkpoints;
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;
ALTER TABLE audit_events RENAME TO audit_events_partitioned;
ALTER INDEX audit_events_exec RENAME TO audit_events_partitioned_exec;
ALTER INDEX audit_events_org RENAME TO audit_events_partitioned_org;
CREATE TABLE audit_events (
    id bigint PRIMARY KEY DEFAULT nextval('audit_events_id_seq'),
    organization_id uuid NOT NULL,
    actor_type text NOT NULL CHECK (actor_type IN ('user', 'system', 'webhook')),
    actor_id text,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text,
    execution_id uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    correlation_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    prev_hash text NOT NULL,
    hash text NOT NULL
);
INSERT INTO audit_events SELECT * FROM audit_events_partitioned;
DROP TABLE audit_events_partitioned CASCADE;
DROP FUNCTION IF EXISTS audit_events_ensure_partition(date);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
CREATE INDEX audit_events_exec ON audit_events (execution_id, id);
CREATE INDEX audit_events_org ON audit_events (organization_id, id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();
"""


#: indexes that migrations before this one (or other branches') put on audit_events, rebuilt below
_EXTRA_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'audit_events'
  AND indexname NOT IN ('audit_events_pkey', 'audit_events_exec', 'audit_events_org')
"""


def up(db):
    extra = db.execute_sql(_EXTRA_INDEXES).fetchall()
    db.execute_sql(UP)
    for _, definition in extra:
        if " UNIQUE " in f" {definition.upper()} ":
            raise RuntimeError(f"0081 cannot keep a unique index without created_at on the partitioned "
                               f"audit_events: {definition}")
        db.execute_sql(definition)


def down(db):
    db.execute_sql(DOWN)
