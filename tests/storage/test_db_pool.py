"""The connection pool hands out live connections without pinging recent ones."""
import os

import psycopg2

from storage.db import Pool, connect_params
from tests.support import wait_until


def backend_pid(pool):
    with pool.connection_context():
        return pool.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def test_a_pooled_connection_the_server_killed_is_replaced_once_it_is_old_enough_to_ping(db):
    params = connect_params(os.environ["DATABASE_URL"])
    pool = Pool(max_connections=2, stale_timeout=300, timeout=5, register_hstore=False, **params)
    try:
        # A recently returned connection is handed out again as is (no ping)
        first = backend_pid(pool)
        assert backend_pid(pool) == first

        # When the server kills it while it sits in the pool
        admin = psycopg2.connect(**params)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (first,))
            wait_until(lambda: (cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (first,))
                                or cursor.fetchone()[0] == 0), 10, message="backend gone")
        admin.close()

        # Then, once it is older than PING_AFTER, the checkout's ping finds it dead and a new one is used
        pool.PING_AFTER = 0
        second = backend_pid(pool)
        assert second != first
    finally:
        pool.close_all()
