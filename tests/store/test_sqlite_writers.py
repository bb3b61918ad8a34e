"""SQLite writers wait for each other: a write transaction that reads first is not refused
("database is locked") because another connection wrote meanwhile (the schemathesis run of
issue 13 found it as a 500 under two concurrent clients); reads stay apart from the lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from labelport.store import open_store


def test_a_writer_that_read_first_is_not_refused(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    engine = store.engine
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    errors: list[BaseException] = []
    started = threading.Event()

    def other_writer() -> None:
        started.wait()
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=other_writer)
    thread.start()
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
        started.set()
        time.sleep(0.3)  # the other writer tries now, and waits for this one
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    thread.join(timeout=10)
    with engine.connect() as conn:
        reader_sees = conn.exec_driver_sql("SELECT x FROM t ORDER BY x").scalars().all()
    store.close()
    assert not errors, errors
    assert reader_sees == [1, 2]
