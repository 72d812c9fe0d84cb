"""Every migration after the baseline is safe to apply while the previous release runs."""
import pytest

from storage import migrations
from storage.migrations import safety


def test_every_migration_follows_the_release_rules_or_carries_a_reasoned_waiver():
    problems = []
    for version, module in migrations.available():
        if version <= safety.BASELINE:
            continue
        sql = getattr(module, "UP", None)
        waivers = safety.waivers(module)
        for rule in safety.check(sql) if sql is not None else ["data-migration"]:
            if not str(waivers.get(rule, "")).strip():
                problems.append(f"{module.__name__}: {rule} ({safety.RULES[rule][1]}); split it across releases "
                                f"or add SAFETY_WAIVERS = {{{rule!r}: 'why the old release is not hurt'}}")
        for rule in waivers:
            assert rule in safety.RULES, f"{module.__name__}: unknown waiver {rule!r}"
    assert problems == []


@pytest.mark.parametrize("sql, rules", [
    ("ALTER TABLE workflows ADD COLUMN color text;", []),
    ("ALTER TABLE workflows ADD COLUMN color text NOT NULL DEFAULT 'red';", []),
    ("ALTER TABLE workflows ADD COLUMN color text NOT NULL;", ["add-required-column"]),
    ("ALTER TABLE workflows ADD COLUMN n int DEFAULT 0 NOT NULL;", []),
    ("ALTER TABLE workflows DROP COLUMN name;", ["drop-column"]),
    ("DROP TABLE templates;", ["drop-table"]),
    ("ALTER TABLE workflows RENAME COLUMN name TO title;", ["rename"]),
    ("ALTER TABLE workflows ALTER COLUMN name TYPE varchar(10);", ["alter-type"]),
    ("ALTER TABLE workflows ALTER COLUMN description SET NOT NULL;", ["set-not-null"]),
    ("ALTER TABLE workflows ADD CONSTRAINT x FOREIGN KEY (a) REFERENCES b(id);", ["validated-constraint"]),
    ("ALTER TABLE workflows ADD CONSTRAINT x FOREIGN KEY (a) REFERENCES b(id) NOT VALID;", []),
    ("CREATE INDEX w_name ON workflows (name);", ["index-on-existing-table"]),
    ("CREATE TABLE things (id int); CREATE INDEX things_id ON things (id);", []),
    ("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE x; END $$;", []),
    ("TRUNCATE clock_ticks;", ["truncate"]),
])
def test_the_checker_knows_the_unsafe_operations(sql, rules):
    assert safety.check(sql) == rules
