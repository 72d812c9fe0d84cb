"""Rules a migration must follow to be safe while the previous release runs.

A release applies migrations (`docg migrate`) while the old web, worker and
clock processes still serve; they keep running until the new ones replace
them. So a migration may only add: new tables, nullable columns or columns
with a default, indexes on tables it creates, constraints added `NOT VALID`.
Removing or renaming what the old code reads, rewriting a column's type,
or long locks on busy tables must wait for a later release (expand, then
contract), or carry a reviewed waiver in the module:

    SAFETY_WAIVERS = {"rename": "why the old release is not hurt"}

`check(sql)` returns the names of the rules `sql` breaks; tests apply it to
every migration after the baseline (docs/operations.md, "Releases"). A
migration whose `up()` runs Python instead of an `UP` string needs a
`data-migration` waiver. `REVIEWED` holds waivers for migrations written on
other branches, reviewed when they were merged.
"""
import re

BASELINE = 1

#: rule name -> (pattern, why it is unsafe while the previous release runs)
RULES = {
    "drop-table": (r"\bDROP\s+TABLE\b", "the previous release still reads and writes it"),
    "drop-column": (r"\bDROP\s+COLUMN\b", "the previous release still selects it (Peewee lists every column)"),
    "rename": (r"\bRENAME\b", "the previous release still uses the old name"),
    "alter-type": (r"\bALTER\s+COLUMN\s+\w+\s+(SET\s+DATA\s+)?TYPE\b", "rewrites the table under an exclusive lock"),
    "set-not-null": (r"\bSET\s+NOT\s+NULL\b", "the previous release may still write NULL; scans under a lock"),
    "add-required-column": (r"(?!)", "the previous release's INSERTs do not fill it"),
    "validated-constraint": (r"\bADD\s+(CONSTRAINT\s+\w+\s+)?(FOREIGN\s+KEY|CHECK)\b(?![^;]*\bNOT\s+VALID\b)",
                             "validates every row under a lock; add it NOT VALID and VALIDATE later"),
    "truncate": (r"(?:^|;)\s*TRUNCATE\b", "deletes data the previous release still serves"),
    "lock-table": (r"\bLOCK\s+TABLE\b", "blocks the previous release's queries"),
    "data-migration": (r"(?!)", "Python, not SQL in UP: what the previous release sees must be reviewed by hand"),
    # found by `check` (they need more than one pattern), never by the regex here
    "index-on-existing-table": (r"(?!)", "blocks writes to the table while it builds; build it CONCURRENTLY "
                                         "outside the migration transaction"),
}
#: waivers reviewed here for migrations written on other branches (module name -> rule -> why)
REVIEWED = {
    "0020_sealed_node_secrets": {
        "data-migration": "seals clear secrets in node and step configs in place; a worker of the previous "
                          "release would use the sealed value as the secret, so stop the old workers before "
                          "`docg migrate` of this release (docs/operations.md, Releases)",
    },
    "0030_execution_events": {
        "validated-constraint": "swaps side_effects' status CHECK for a wider one: the scan is one row per "
                                "external effect, under a brief lock, and the previous release only writes "
                                "statuses the new CHECK allows",
    },
    "0090_admission": {
        "index-on-existing-table": "two small partial indexes on workflow_executions; the previous release's "
                                   "INSERTs wait for the build, so apply it in a quiet window. Its backfill "
                                   "marks every existing run admitted; runs the previous release creates after "
                                   "it stay unadmitted and the clock admits them (actors/timers.py)",
    },
    "0051_audit_target_index": {
        "index-on-existing-table": "audit_events only takes INSERTs, which wait for the build; apply it while "
                                   "the trail is small or in a quiet window (0081 rebuilds it per partition)",
    },
}

_ADD_COLUMN = re.compile(r"\bADD\s+COLUMN\b[^,;]*", re.I)
_CREATE_TABLE = re.compile(r"\bCREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_CREATE_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(IF\s+NOT\s+EXISTS\s+)?\w*\s*ON\s+(\w+)",
                           re.I)


def _strip(sql):
    sql = re.sub(r"--[^\n]*", " ", sql)
    return re.sub(r"\$\$.*?\$\$", " $$ $$ ", sql, flags=re.S)  # function bodies are not DDL run now


def waivers(module):
    """The reviewed waivers of a migration module: its own and REVIEWED's."""
    name = module.__name__.rsplit(".", 1)[-1]
    return {**REVIEWED.get(name, {}), **getattr(module, "SAFETY_WAIVERS", {})}


def check(sql):
    """Names of the rules `sql` (a migration's UP) breaks, sorted."""
    text = _strip(sql)
    broken = {name for name, (pattern, _) in RULES.items() if re.search(pattern, text, re.I)}
    for clause in _ADD_COLUMN.findall(text):
        if re.search(r"\bNOT\s+NULL\b", clause, re.I) and not re.search(r"\bDEFAULT\b", clause, re.I):
            broken.add("add-required-column")
    created = {match.group(2).lower() for match in _CREATE_TABLE.finditer(text)}
    for match in _CREATE_INDEX.finditer(text):
        if match.group(4).lower() not in created and not match.group(2):
            broken.add("index-on-existing-table")
    return sorted(broken)
