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


def test_a_pool_keeps_at_most_max_idle_connections_open_once_a_burst_is_over(db):
    import threading

    params = connect_params(os.environ["DATABASE_URL"])
    pool = Pool(max_connections=6, max_idle=2, stale_timeout=300, timeout=5, register_hstore=False,
                application_name="docg-idle-test", **params)

    def open_on_server():
        return db.execute_sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'docg-idle-test'"
                              ).fetchone()[0]

    try:
        # Given a burst that holds six connections at once
        barrier, done = threading.Barrier(6), threading.Event()

        def hold():
            with pool.connection_context():
                pool.execute_sql("SELECT 1")
                barrier.wait(10)
                done.wait(10)

        threads = [threading.Thread(target=hold) for _ in range(6)]
        for thread in threads:
            thread.start()
        wait_until(lambda: open_on_server() == 6, 10, message="six connections open")

        # When it is over, Then two stay open for the next callers and the others are closed
        done.set()
        for thread in threads:
            thread.join(10)
        wait_until(lambda: open_on_server() == 2, 10, message="the pool back to its idle cap")
        assert len(pool._connections) == 2
        assert backend_pid(pool) and open_on_server() == 2
    finally:
        pool.close_all()
