"""storage/db.Prepared: a hot statement is prepared once per connection, and recovers when that fails."""
import peewee
import pytest

from storage.db import Prepared

SQL = "SELECT %(a)s::int + %(b)s::int, %(a)s::int"


def prepared_names(db):
    return {row[0] for row in db.execute_sql("SELECT name FROM pg_prepared_statements").fetchall()}


def test_a_statement_is_prepared_on_its_first_run_and_only_executed_after(db):
    statement = Prepared("test_sum", SQL)

    assert statement.execute(db, {"a": 2, "b": 3}).fetchone() == (5, 2)
    assert "test_sum" in prepared_names(db)
    assert statement.execute(db, {"a": 10, "b": 1}).fetchone() == (11, 10)
    assert [row[0] for row in db.execute_sql(
        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'test_sum%%'").fetchall()] == [1]


def test_a_statement_the_server_forgot_is_prepared_again(db):
    statement = Prepared("test_forgot", SQL)
    statement.execute(db, {"a": 1, "b": 1})
    db.execute_sql("DEALLOCATE ALL")  # what a server-side DISCARD does

    with pytest.raises(peewee.DatabaseError):
        statement.execute(db, {"a": 1, "b": 1})
    assert statement.execute(db, {"a": 4, "b": 4}).fetchone() == (8, 4)


def test_a_failed_first_run_prepares_under_a_new_name_next_time(db):
    statement = Prepared("test_failed", SQL)

    with pytest.raises(peewee.DatabaseError):
        statement.execute(db, {"a": "not a number", "b": 1})
    assert statement.execute(db, {"a": 1, "b": 2}).fetchone() == (3, 1)
