"""Benchmark of sharded export jobs on Celery workers: does a second worker add throughput?

Imports a project of 20,000 images x 20 boxes (400k annotations) into a PostgreSQL database
of its own (``workers_bench`` on ``--server``; kept between runs, ``--fresh`` rebuilds it),
then starts three Celery workers (``celery -A labelport.jobs.celery_app worker``, what
``labelport worker`` runs, concurrency 1) on a private queue on Redis (``--redis``, database 13
by default): one without sharding (the reference), two with ``LABELPORT_SHARD_ITEMS``
(``--shard-items``). For each format, only the workers a run is for take jobs (Celery's
add/cancel consumer), so every worker stays warm; after one unmeasured run each, one worker
without shards runs once, then one and two sharding workers run alternately, ``--runs`` times
each. A run is timed from submit to the job's recorded end (polled every quarter second). Artifacts go to a temporary folder, or with
``--s3`` to a bucket on a moto server this bench starts.

Every run must give the same content hash (the files, manifest aside) as the reference, and
every sharded run the same artifact bytes (sha256). The table gives medians: wall, the
workers' CPU (user+sys, each worker's process), PostgreSQL's CPU (every
``postgres`` process on this machine, so run it on an otherwise idle server), the speedup of two workers over one with the
same sharding, and the phases of a sharded job: planning (submit to shards queued), shards
(first shard queued to last shard done), waiting for the merge to start, merge.

Target (issue 14): two workers at least 1.7x faster than one, same bytes, on 2 cores.

    .venv/bin/python bench/workers_bench.py [--formats yolo coco] [--runs 3] [--s3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from labelport.jobs.celery_app import CeleryRunner
from labelport.jobs.config import JobSettings
from labelport.store import Store, open_store
from labelport.store.jobs import JobInfo, JobStatus

sys.path.insert(0, str(Path(__file__).parent))
from import_bench import _pg_database  # noqa: E402
from stream_bench import import_size, project_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "workers_bench"
TICKS = os.sysconf("SC_CLK_TCK")
POLL_SECONDS = 0.25
"""How often the bench asks whether a job has ended: a run is timed by the job's own end
(``finished_at``), so polling less often does not blur the figure, and it does not take CPU
(the bench's and the database's) from the workers it measures."""


class Worker:
    """One Celery worker process (`celery_app`'s command, concurrency 1, named so the bench
    can tell it to stop or start taking jobs), in its own process group."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = f"{name}@{socket.gethostname()}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "labelport.jobs.celery_app", "worker",
                 "--pool", "threads", "--concurrency", "1", "-Q", env["LABELPORT_QUEUE"],
                 "-n", self.name, "--without-gossip", "--without-mingle", "--loglevel", "info"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 120
        while " ready." not in log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"worker did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU of the worker process so far (all its threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def server_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process on this machine so far, ended backends
    included (counted in the postmaster's children's time): the database's share of a run,
    on the cores the workers share with it."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        name, _, rest = text.partition("(")[2].rpartition(")")
        if name == "postgres":
            fields = rest.split()
            total += sum(int(f) for f in fields[11:15])
    return total / TICKS


@dataclass
class Run:
    wall: float
    cpu: list[float]
    server: float
    sha256: str
    content_hash: str
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class Bench:
    store: Store
    project_id: int
    env: dict[str, str]
    settings: JobSettings
    logs: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, name: str, shard_items: int) -> Worker:
        env = {**self.env, "LABELPORT_SHARD_ITEMS": str(shard_items)}
        worker = Worker(name, env, self.logs / f"{name}.log")
        self.started.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.started:
            worker.stop()

    def consume(self, active: list[Worker]) -> None:
        """Only ``active`` take jobs from the queue: the others stay started, warm (modules
        imported, connections open), so a run never pays a worker's first job."""
        control, queue = CeleryRunner(self.store, self.settings).celery.control, \
            self.settings.queue
        for worker in self.started:
            method = control.add_consumer if worker in active else control.cancel_consumer
            replies = method(queue, destination=[worker.name], reply=True, timeout=10)
            if not replies:
                raise RuntimeError(f"worker {worker.name} did not answer; see {worker.log}")

    def run(self, fmt: str, workers: list[Worker], *, warming: bool = False) -> Run:
        """One export job of ``fmt`` on ``workers`` alone, submitted and waited for."""
        self.consume(workers)
        runner = CeleryRunner(self.store, self.settings)
        job_id = self.store.jobs.create(self.project_id, {"format": fmt, "package": "zip",
                                                          "name": f"bench-{fmt}"})
        cpu = [w.cpu_seconds() for w in workers]
        server = server_cpu_seconds()
        submitted = datetime.now(UTC)
        runner.submit(job_id)
        while not (job := self.store.jobs.get(job_id)).status.finished:
            time.sleep(POLL_SECONDS)
        if job.status is not JobStatus.COMPLETED or job.artifact_sha256 is None:
            raise RuntimeError(f"job {job_id} ended {job.status}: {job.error}")
        assert job.finished_at is not None
        wall = (job.finished_at - submitted).total_seconds()
        cpu = [w.cpu_seconds() - before for w, before in zip(workers, cpu, strict=True)]
        server = server_cpu_seconds() - server
        assert job.counts is not None
        run = Run(wall=wall, cpu=cpu, server=server, sha256=job.artifact_sha256,
                  content_hash=job.counts["content_hash"], phases=self._phases(job))
        self.store.jobs.delete(job_id)  # its artifact stays in the temporary storage
        phases = ", ".join(f"{k} {v:.1f}" for k, v in run.phases.items())
        each = " + ".join(f"{c:.1f}" for c in cpu)
        print(f"{fmt}{' (warming up)' if warming else ''}: {len(workers)} worker(s), "
              f"{job.shards} shards: {wall:.1f} s, CPU {each} s, PostgreSQL {server:.1f} s"
              f"{'; ' + phases if phases else ''}; load {os.getloadavg()[0]:.1f}", flush=True)
        return run

    def _phases(self, job: JobInfo) -> dict[str, float]:
        shards = self.store.jobs.shards(job.id)
        if not shards:
            return {}
        queued = min(s.created_at for s in shards)
        done = max(s.finished_at or queued for s in shards)
        assert job.started_at is not None and job.finished_at is not None
        return {"plan": (queued - job.created_at).total_seconds(),
                "shards": (done - queued).total_seconds(),
                "to merge": (job.started_at - done).total_seconds(),
                "merge": (job.finished_at - job.started_at).total_seconds()}


def prepared_database(server: str, annotations: int, fresh: bool) -> tuple[str, int]:
    """The bench's database with its project (imported when missing); URL and project id."""
    url = f"{server}/{DATABASE}"
    if fresh or not _exists(server, DATABASE):
        _pg_database(server, DATABASE, create=True)
    store = open_store(url)
    name = project_name(annotations)
    found = [p for p in store.list_projects() if p.name == name]
    store.close()
    if not found:
        print(f"importing {annotations:,} annotations into {url} ...", flush=True)
        print(f"  {import_size(url, annotations):.1f} s", flush=True)
    store = open_store(url)
    project_id = next(p.id for p in store.list_projects() if p.name == name)
    store.close()
    return url, project_id


def _exists(server: str, name: str) -> bool:
    from sqlalchemy import create_engine, text

    admin = create_engine(server.replace("postgresql://", "postgresql+psycopg://") + "/postgres")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                             {"n": name}).first()
    admin.dispose()
    return found is not None


@contextmanager
def moto_bucket() -> Iterator[tuple[str, dict[str, str]]]:
    """An ``s3://`` base on a moto server started for the bench, and the AWS variables that
    reach it."""
    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield "s3://bench/artifacts", env
    finally:
        process.terminate()
        process.wait(10)


def median(values: list[float]) -> float:
    return statistics.median(values)


def row(label: str, runs: list[Run], one: list[Run] | None) -> str:
    wall = median([r.wall for r in runs])
    cpu = "+".join(f"{median([r.cpu[i] for r in runs]):.1f}" for i in range(len(runs[0].cpu)))
    server = median([r.server for r in runs])
    speedup = f"{median([r.wall for r in one]) / wall:.2f}" if one else ""
    phases = " / ".join(f"{median([r.phases[k] for r in runs]):.1f}"
                        for k in runs[0].phases) or "-"
    walls = ", ".join(f"{r.wall:.1f}" for r in runs)
    return f"| {label} | {wall:.1f} ({walls}) | {cpu} | {server:.1f} | {speedup} | {phases} |"


def bench_format(bench: Bench, workers: dict[str, Worker], fmt: str, runs: int,
                 shard_items: int) -> list[str]:
    whole, first, second = workers["whole"], workers["a"], workers["b"]
    bench.run(fmt, [whole], warming=True)
    reference = [bench.run(fmt, [whole])]
    bench.run(fmt, [first, second], warming=True)
    one: list[Run] = []
    two: list[Run] = []
    for _ in range(runs):  # alternately, so a change of the machine's load hits both
        one.append(bench.run(fmt, [first]))
        two.append(bench.run(fmt, [first, second]))
    hashes = {r.content_hash for r in reference + one + two}
    artifacts = {r.sha256 for r in one + two}
    if len(hashes) != 1 or len(artifacts) != 1:
        raise RuntimeError(f"{fmt}: runs differ: content hashes {hashes}, artifacts {artifacts}")
    return [row(f"{fmt}, 1 worker, no shards", reference, None),
            row(f"{fmt}, 1 worker, shards of {shard_items:,}", one, None),
            row(f"{fmt}, 2 workers, shards of {shard_items:,}", two, one)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL, without a database")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--annotations", type=int, default=400_000)
    parser.add_argument("--shard-items", type=int, default=2_500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", nargs="+", default=["yolo", "coco"])
    parser.add_argument("--s3", action="store_true", help="artifacts on a moto S3 server")
    parser.add_argument("--fresh", action="store_true", help="re-import the project")
    parser.add_argument("--tmpdir", help="the workers' scratch folder ($TMPDIR), e.g. a tmpfs "
                        "such as /dev/shm (default: the system's)")
    args = parser.parse_args()

    url, project_id = prepared_database(args.server, args.annotations, args.fresh)
    with tempfile.TemporaryDirectory(prefix="workers-bench-") as tmp, \
            (moto_bucket() if args.s3 else _folder(Path(tmp) / "artifacts")) as (artifacts,
                                                                                  aws):
        settings = JobSettings(runner="celery", broker=args.redis, artifacts=artifacts,
                               queue=f"workers-bench-{uuid.uuid4().hex[:8]}")
        scratch = {"TMPDIR": tempfile.mkdtemp(prefix="workers-bench-", dir=args.tmpdir)} \
            if args.tmpdir else {}
        env = {**os.environ, **aws, **scratch, "LABELPORT_DB": url,
               "LABELPORT_REDIS_URL": args.redis,
               "LABELPORT_QUEUE": settings.queue, "LABELPORT_ARTIFACTS": artifacts,
               "LABELPORT_RUNNER": "celery"}
        store = open_store(url)
        bench = Bench(store=store, project_id=project_id, env=env, settings=settings,
                      logs=Path(tmp))
        load = os.getloadavg()
        lines = []
        try:
            workers = {"whole": bench.start("whole", 0),
                       "a": bench.start("a", args.shard_items),
                       "b": bench.start("b", args.shard_items)}
            for fmt in args.formats:
                lines += bench_format(bench, workers, fmt, args.runs, args.shard_items)
        finally:
            bench.stop()
            store.close()
            if scratch:
                shutil.rmtree(scratch["TMPDIR"], ignore_errors=True)
    print(f"\n{args.annotations:,} annotations, {args.runs} runs, artifacts "
          f"{'on S3 (moto)' if args.s3 else 'in a folder'}, workers' scratch in "
          f"{args.tmpdir or tempfile.gettempdir()}; load average "
          f"{load[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"git {_commit()}\n")
    print("| run | wall s, median (runs) | worker CPU s | PostgreSQL CPU s | speedup | "
          "plan / shards / to merge / merge s |")
    print("| --- | --- | --- | ---: | ---: | --- |")
    print("\n".join(lines))


@contextmanager
def _folder(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    yield str(path), {}


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    return re.sub(r"\s", "", out) or "?"


if __name__ == "__main__":
    main()
