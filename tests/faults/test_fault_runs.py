"""The fault script's short version: one run per broker (web workers and qcluster SIGKILLed,
PostgreSQL restarted mid-load on the private cluster); every acked event stored and processed
exactly once, and processing resumed by itself."""

import os
import random
import shutil

import pytest

from tests.faults import run

pytestmark = pytest.mark.slow


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/11", socket_timeout=2).ping())
    except Exception:  # noqa: BLE001 — any failure means no Redis to test against
        return False


@pytest.mark.skipif(
    not shutil.which("pg_ctlcluster") or os.geteuid() != 0,
    reason="needs pg_createcluster/pg_ctlcluster and the rights to run them",
)
def test_one_fault_run_per_broker_loses_and_doubles_nothing(tmp_path):
    brokers = ["orm"] + (["redis"] if _redis_up() else [])
    rng = random.Random()
    results = {}
    with run.FaultDatabase() as url:
        for broker in brokers:
            if broker == "redis":
                run.flush_redis_db()
            results[broker] = run.one_run(run.fault_env(url, broker), rng, 60, tmp_path)
    for broker, result in results.items():
        print(f"\n{broker}: {result}")
        assert result["lost"] == 0, result
        assert result["duplicate_signals"] == 0, result
        assert result["stored"] == result["distinct"] >= result["acked"] > 0, result
        assert result["resumed"], result
        assert result["5xx_other"] == 0, result
        assert result["pg_restarts"] == 1, result
