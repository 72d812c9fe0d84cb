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
every migration after the baseline (docs/operations.md, "Releases").
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
    "add-required-column": (r"\bADD\s+COLUMN\s+(IF\s+NOT\s+EXISTS\s+)?\w+\s+[^,;]*\bNOT\s+NULL\b(?![^,;]*\bDEFAULT\b)",
                            "the previous release's INSERTs do not fill it"),
    "validated-constraint": (r"\bADD\s+(CONSTRAINT\s+\w+\s+)?(FOREIGN\s+KEY|CHECK)\b(?![^;]*\bNOT\s+VALID\b)",
                             "validates every row under a lock; add it NOT VALID and VALIDATE later"),
    "truncate": (r"(?:^|;)\s*TRUNCATE\b", "deletes data the previous release still serves"),
    "lock-table": (r"\bLOCK\s+TABLE\b", "blocks the previous release's queries"),
    # found by `check` (it needs to know which tables the migration creates), never by a pattern
    "index-on-existing-table": (r"(?!)", "blocks writes to the table while it builds; build it CONCURRENTLY "
                                         "outside the migration transaction"),
}
_CREATE_TABLE = re.compile(r"\bCREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_CREATE_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(IF\s+NOT\s+EXISTS\s+)?\w*\s*ON\s+(\w+)",
                           re.I)


def _strip(sql):
    sql = re.sub(r"--[^\n]*", " ", sql)
    return re.sub(r"\$\$.*?\$\$", " $$ $$ ", sql, flags=re.S)  # function bodies are not DDL run now


def check(sql):
    """Names of the rules `sql` (a migration's UP) breaks, sorted."""
    text = _strip(sql)
    broken = {name for name, (pattern, _) in RULES.items() if re.search(pattern, text, re.I)}
    created = {match.group(2).lower() for match in _CREATE_TABLE.finditer(text)}
    for match in _CREATE_INDEX.finditer(text):
        if match.group(4).lower() not in created and not match.group(2):
            broken.add("index-on-existing-table")
    return sorted(broken)
