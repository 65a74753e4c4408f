#!/usr/bin/env python3
"""run-pg-ingest.py - ingest rate on SQLite and on PostgreSQL, side by side
in one run (figures recorded in docs/benchmarks.md, section "PostgreSQL").

    bench/run-pg-ingest.py            # about 2 minutes

For each backend, a fresh collector (threads = 2, the default) on
127.0.0.1 and rasfleet-loadgen against it:
  (a) max throughput: 16 connections, 500-record batches, RF_BENCH_SECONDS
      (12) seconds, the same bodies for both backends (--pool-cache);
  (b) latency at a fixed rate: RF_BENCH_RATE (200) batches/s of 50 records
      (events + config snapshot) for 10 s;
then (r) read latency on the database the max-throughput phase left
(~1-2 M events): p50/p99 of RF_BENCH_READS (100) requests per read
endpoint, one client, after ingest stopped; then (c) two collectors
sharing one PostgreSQL database, each under its own loadgen (8
connections), at the same time; their sum is the scale-out figure, every
acknowledged record must be in the database, and after the load both
collectors answer the same overview; (l) consistency lag: a batch
acknowledged by one collector, polled for in the other's device list
every 50 ms, 20 times.
PostgreSQL is a throwaway cluster (tests/integration/rfharness.py) with
fsync on, so a 200 costs a real WAL flush as it does on SQLite
(synchronous=FULL); it runs on the same machine and its CPU is reported.
Prints one table; exit status 1 on any non-200 answer or a collector that
does not exit 0 on SIGTERM.

Binaries: $RF_BENCH_BUILD (default build-release/, built Release when
missing). Loopback only, bounded in time.

    RF_BENCH_BEFORE=/path/to/older/build bench/run-pg-ingest.py

compares two collectors on PostgreSQL instead (about 4 minutes): the older
build's (e.g. before the agent_status/rollup writes) and this one's, each
through (a), (b) and (c), alternating before/after twice so that the
machine's noise shows as the spread between the two rounds of each.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
BUILD = os.environ.get("RF_BENCH_BUILD", os.path.join(ROOT, "build-release"))
os.environ["RF_BUILD_DIR"] = BUILD
import rfharness as h  # noqa: E402  (needs RF_BUILD_DIR)

SECONDS = int(os.environ.get("RF_BENCH_SECONDS", "12"))
RATE = int(os.environ.get("RF_BENCH_RATE", "200"))
READS_N = int(os.environ.get("RF_BENCH_READS", "100"))
READS = (("overview 24h", "/api/v1/overview?window=24h"),
         ("errors by code 24h", "/api/v1/errors?group_by=code&window=24h"),
         ("errors by server 7d", "/api/v1/errors?group_by=server&window=7d"),
         ("trend 1h x 24h", "/api/v1/trend?bucket=1h&window=24h"),
         ("devices page", "/api/v1/devices?limit=50&offset=100"),
         ("device detail", None),
         ("overview 90d (rollups)", "/api/v1/overview?window=90d"))
HZ = os.sysconf("SC_CLK_TCK")
LOADGEN = os.path.join(BUILD, "bench", "rasfleet-loadgen")


def build():
    if os.path.exists(LOADGEN) and os.path.exists(h.collector_binary()):
        return
    subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", "rasfleet-collector",
                    "rasfleet-loadgen"], check=True, stdout=subprocess.DEVNULL)


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total


def postgres_pids(cluster):
    if not cluster:
        return []
    with open(os.path.join(cluster.data, "postmaster.pid")) as f:
        master = int(f.readline())
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [master] + [int(p) for p in out.split()]


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def run_load(c, cluster, args):
    pids = [c.proc.pid]
    pg_pids = postgres_pids(cluster)
    c0, p0 = cpu_ticks(pids), cpu_ticks(pg_pids)
    out = subprocess.run([LOADGEN, "--url", "http://127.0.0.1:%d" % c.port, "--wait-quiet", "5"]
                         + args, capture_output=True, text=True,
                         env=dict(os.environ, RASFLEET_ADMIN_TOKEN=h.ADMIN_TOKEN))
    c1, p1 = cpu_ticks(pids), cpu_ticks(postgres_pids(cluster)) if cluster else 0
    line = [l for l in out.stdout.splitlines() if l.startswith("RESULT")]
    if out.returncode != 0 or not line:
        sys.stdout.write(out.stdout + out.stderr)
        raise SystemExit("loadgen failed against %s" % c.db)
    res = dict(kv.split("=", 1) for kv in line[0].split()[1:])
    secs = float(res["seconds"])
    m = c.request("GET", "/metrics")[2].decode()
    commits = metric(m, "rasfleet_commit_duration_seconds_count") or 1
    res["batches_per_commit"] = metric(m, "rasfleet_commit_batches_total") / commits
    res["ms_per_commit"] = metric(m, "rasfleet_commit_duration_seconds_sum") * 1000 / commits
    res["collector_cpu"] = (c1 - c0) / HZ / secs * 100
    res["postgres_cpu"] = (p1 - p0) / HZ / secs * 100 if cluster else 0.0
    return res


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def read_latency(c):
    """p50/p99 ms per read endpoint (None when the endpoint is not 200)."""
    st, page = c.get_json("/api/v1/devices?limit=1")
    device = page["devices"][0]["device_id"] if st == 200 and page.get("devices") else None
    out = {}
    for name, path in READS:
        if path is None:
            path = "/api/v1/devices/" + device if device else None
        times, status = [], None
        for _ in range(READS_N if path else 0):
            t0 = time.perf_counter()
            status = c.request("GET", path, headers={"Authorization": "Bearer " + h.ADMIN_TOKEN})[0]
            times.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                break
        out[name] = (percentile(times, 0.5), percentile(times, 0.99)) if status == 200 else None
    return out


def consistency_lag(a, b, rounds=20):
    """Seconds from a batch's 200 on collector a until collector b's device
    list shows its device (polled every 50 ms, at most 30 s)."""
    lags = []
    for i in range(rounds):
        dev = "lag-probe-%d-%d" % (os.getpid(), i)
        body = json.dumps({"batch_id": "lag-%d" % i, "agent": {"device_id": dev},
                           "records": [{"kind": "ras_event", "time": time.strftime(
                               "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event_id": 20227,
                               "record_id": 1, "level": "error", "user": "CORP\\probe", "connection": "VPN",
                               "error_code": 809}]})
        st = a.request("POST", "/api/v1/ingest", body=body.encode(), headers={
            "Authorization": "Bearer " + h.ADMIN_TOKEN, "Content-Type": "application/json"})[0]
        if st != 200:
            raise SystemExit("lag probe refused: %d" % st)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            st, page = b.get_json("/api/v1/devices?limit=5&q=" + dev)
            if st == 200 and page.get("devices"):
                break
            time.sleep(0.05)
        else:
            raise SystemExit("collector b never showed %s" % dev)
        lags.append(time.monotonic() - t0)
    return lags


def bench_backend(name, cluster, pool):
    results = {}
    for phase, args in (
            ("max", ["--concurrency", "16", "--seconds", str(SECONDS), "--max-batches",
                     str(SECONDS * 600), "--run", "77001", "--pool-cache", pool]),
            ("rate", ["--rate", str(RATE), "--seconds", "10", "--records", "50", "--mix",
                      "--concurrency", "64", "--run", "77002"])):
        pg = cluster.create_database() if cluster else None
        c = h.Collector(pg=pg, extra_args=["--log-level", "warn", "--threads", "2"]).start()
        try:
            print("== %s: %s" % (name, phase), flush=True)
            results[phase] = run_load(c, cluster, args)
            if phase == "max":
                print("== %s: reads" % name, flush=True)
                results["reads"] = read_latency(c)
            rc = c.stop()
            if rc != 0:
                raise SystemExit("collector (%s) exited with %s:\n%s" % (name, rc, c.read_log()))
        finally:
            c.cleanup()
    return results


def bench_two_collectors(cluster, probe_lag=True):
    """Two collectors on one PostgreSQL database, each driven by its own
    loadgen (8 connections each, distinct batch ids), at the same time."""
    pg = cluster.create_database()
    cs = [h.Collector(pg=pg, extra_args=["--log-level", "warn", "--threads", "2"]).start()
          for _ in range(2)]
    try:
        print("== PostgreSQL: two collectors, max", flush=True)
        procs, outs = [], []
        env = dict(os.environ, RASFLEET_ADMIN_TOKEN=h.ADMIN_TOKEN)
        p0 = cpu_ticks(postgres_pids(cluster))
        for i, c in enumerate(cs):
            procs.append(subprocess.Popen(
                [LOADGEN, "--url", "http://127.0.0.1:%d" % c.port, "--concurrency", "8",
                 "--seconds", str(SECONDS), "--max-batches", str(SECONDS * 300), "--run",
                 str(77101 + i), "--devices", "1000"], stdout=subprocess.PIPE, text=True, env=env))
        for p in procs:
            out = p.communicate()[0]
            line = [l for l in out.splitlines() if l.startswith("RESULT")]
            if p.returncode != 0 or not line:
                raise SystemExit("loadgen failed (two collectors):\n" + out)
            outs.append(dict(kv.split("=", 1) for kv in line[0].split()[1:]))
        secs = max(float(o["seconds"]) for o in outs)
        pg_cpu = (cpu_ticks(postgres_pids(cluster)) - p0) / HZ / secs * 100
        stored = pg.sql("SELECT count(*) FROM events")[0][0]
        lags, same = [0.0], None
        if probe_lag:  # builds before the tail (pg_tail.c) never show it
            print("== PostgreSQL: two collectors, consistency lag", flush=True)
            lags = consistency_lag(cs[0], cs[1])
            time.sleep(3)  # past the default refresh interval
            views = []
            for c in cs:
                st, body = c.get_json("/api/v1/overview?window=1h")
                for k in ("generated_at", "from", "to"):
                    body.pop(k, None)
                views.append((st, body))
            same = views[0] == views[1]
        for c in cs:
            if c.stop() != 0:
                raise SystemExit("a collector did not exit 0:\n" + c.read_log())
        return {"records_per_s": sum(float(o["records_per_s"]) for o in outs),
                "p99_ms": max(float(o["p99_ms"]) for o in outs), "postgres_cpu": pg_cpu,
                "stored": stored, "acked": sum(int(o["records"]) for o in outs),
                "lag_p50": percentile(lags, 0.5), "lag_max": max(lags), "same_overview": same}
    finally:
        for c in cs:
            c.cleanup()


def bench_pg_round(cluster, pool, label, build_dir):
    h.BUILD_DIR = build_dir  # collector_binary() looks there
    r = bench_backend("PostgreSQL " + label, cluster, pool)
    r["two"] = bench_two_collectors(cluster, probe_lag=False)
    return r


def compare_builds(before):
    """Older build vs this one on PostgreSQL, before/after/before/after."""
    build()
    work = tempfile.mkdtemp(prefix="rasfleet-pgbench-")
    cluster = h.PostgresCluster(fsync=True).start()
    rows = []
    try:
        pool = os.path.join(work, "pool.bin")
        for rnd in (1, 2):
            for label, d in (("before", before), ("after", BUILD)):
                rows.append((label, rnd, bench_pg_round(cluster, pool, label, d)))
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\nsummary (%s), PostgreSQL, before = %s" % (
        time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), before))
    print("build  | round | max records/s | p99 ms | ms/commit | collector CPU | postgres CPU"
          " | %d/s x 50: p50 / p99 ms | two collectors records/s | p99 ms" % RATE)
    for label, rnd, r in rows:
        m, q, t = r["max"], r["rate"], r["two"]
        print("%-6s | %5d | %13s | %6s | %9.1f | %12.0f%% | %11.0f%% | %10s / %6s | %24.0f | %.0f"
              % (label, rnd, m["records_per_s"], m["p99_ms"], m["ms_per_commit"],
                 m["collector_cpu"], m["postgres_cpu"], q["p50_ms"], q["p99_ms"],
                 t["records_per_s"], t["p99_ms"]))
        if t["stored"] < t["acked"]:
            raise SystemExit("FAILED: acknowledged records missing from PostgreSQL")


def main():
    if os.environ.get("RF_BENCH_BEFORE"):
        return compare_builds(os.environ["RF_BENCH_BEFORE"])
    build()
    work = tempfile.mkdtemp(prefix="rasfleet-pgbench-")
    cluster = None
    try:
        pool = os.path.join(work, "pool.bin")
        print("machine: nproc %d; %s; PostgreSQL %s" % (
            os.cpu_count(),
            re.sub(r".*: ", "", [l for l in open("/proc/cpuinfo") if "model name" in l][0]).strip(),
            h.postgres_bindir().split("/")[-2]), flush=True)
        lite = bench_backend("SQLite", None, pool)
        cluster = h.PostgresCluster(fsync=True).start()
        pg = bench_backend("PostgreSQL", cluster, pool)
        two = bench_two_collectors(cluster)
    finally:
        if cluster:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\nsummary (%s)" % time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()))
    print("backend    | max records/s | p99 ms | batches/commit | ms/commit | collector CPU"
          " | postgres CPU | %d/s x 50: p50 ms | p99 ms | max ms" % RATE)
    for name, r in (("SQLite", lite), ("PostgreSQL", pg)):
        m, q = r["max"], r["rate"]
        print("%-10s | %13s | %6s | %14.1f | %9.1f | %12.0f%% | %11.0f%% | %16s | %6s | %s" % (
            name, m["records_per_s"], m["p99_ms"], m["batches_per_commit"], m["ms_per_commit"],
            m["collector_cpu"], m["postgres_cpu"], q["p50_ms"], q["p99_ms"], q["max_ms"]))
    print("PostgreSQL / SQLite max ingest: %.0f%%" % (
        float(pg["max"]["records_per_s"]) / float(lite["max"]["records_per_s"]) * 100))
    print("two collectors on one PostgreSQL (8 connections each): %.0f records/s together,"
          " p99 %.0f ms, postgres CPU %.0f%%; %d records acknowledged, %d events stored" % (
              two["records_per_s"], two["p99_ms"], two["postgres_cpu"], two["acked"],
              two["stored"]))
    print("read latency after the max phase, %d requests each, ms p50 / p99:" % READS_N)
    print("%-24s | %-15s | %-15s" % ("endpoint", "SQLite", "PostgreSQL"))
    for name, _ in READS:
        cells = []
        for r in (lite, pg):
            v = r["reads"].get(name)
            cells.append("%6.1f / %6.1f" % v if v else "not answered")
        print("%-24s | %-15s | %-15s" % (name, cells[0], cells[1]))
    print("consistency lag (200 on one collector -> visible on the other): p50 %.2f s,"
          " max %.2f s; both overviews equal after the load: %s" % (
              two["lag_p50"], two["lag_max"], two["same_overview"]))
    if two["stored"] < two["acked"]:
        raise SystemExit("FAILED: acknowledged records missing from PostgreSQL")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
