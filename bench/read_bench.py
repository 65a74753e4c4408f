#!/usr/bin/env python3
"""Read-API benchmark: a collector holding a large fleet (default 100k
devices, 10M events over 30 days), p50/p99 latency of overview, errors,
trend and findings from the hot path, and of 365-day windows from the daily
rollups, against the same answers computed by SQL over the raw rows in the
same run (the ratio is what counts on a shared machine).

The database is written directly with the collector's schema (created by
the collector itself) to keep the set-up short, as schema 2 left it (the
rollup tables dropped): the collector's first start migrates it, filling
the rollups from the raw events (timed: first start minus a second one),
then rebuilds its hot aggregate, which is timed too.

  python3 bench/read_bench.py --build build-rel [--devices 100000] [--events 10000000]
"""
import argparse
import calendar
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

TOKEN = "bench-admin-token-0123456789"
CODES = [809, 691, 812, 13801, 13806, 13868, -2146762495, 853, 864, 720]
CODE_WEIGHTS = [30, 25, 8, 6, 6, 5, 8, 4, 4, 4]


def start_collector(binary, db, workdir):
    port_file = os.path.join(workdir, "port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    log = open(os.path.join(workdir, "collector.log"), "ab")
    env = dict(os.environ, RASFLEET_ADMIN_TOKEN=TOKEN)
    t0 = time.time()
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--db", db, "--port-file",
                             port_file], env=env, stdout=log, stderr=log)
    while not os.path.exists(port_file):
        if proc.poll() is not None:
            sys.exit("collector exited; see " + log.name)
        time.sleep(0.05)
    with open(port_file) as f:
        port = int(f.read().strip())
    return proc, port, time.time() - t0


def populate(db, n_devices, n_events, days, seed):
    rng = random.Random(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    now = int(time.time() * 1000)
    span = days * 86400000
    con.execute("BEGIN")
    strings = ["Always On VPN", "Always On VPN Device Tunnel", "CORP\\user", "SYSTEM",
               "vpn1.example.net", "vpn2.example.net", "Ikev2", "Sstp", "Eap", "MachineCertificate",
               "Ethernet", "Wi-Fi"]
    ids = {}
    for s in strings:
        ids[s] = con.execute("INSERT INTO dict(s) VALUES(?)", (s,)).lastrowid
    builds = ["10.0.19045", "10.0.22631", "10.0.26100"]
    con.executemany(
        "INSERT INTO devices(id, uid, hostname, os_version, agent_version, first_seen, last_seen)"
        " VALUES(?,?,?,?,?,?,?)",
        ((i + 1, "dev-%06d" % i, "LT-%06d" % i, builds[i % 3], "0.1.0", now - span,
          now - rng.randrange(0, 86400000)) for i in range(n_devices)))
    con.executemany(
        "INSERT INTO vpn_policies(device, time, connection, server, tunnel_type, auth_method,"
        " split_tunneling, device_tunnel) VALUES(?,?,?,?,?,?,1,0)",
        ((i + 1, now - 3600000, ids["Always On VPN"],
          ids["vpn1.example.net"] if i % 2 else ids["vpn2.example.net"],
          ids["Ikev2"] if i % 5 else ids["Sstp"], ids["Eap"]) for i in range(n_devices)))
    # events: attempts of 3 events (dial, outcome, disconnect or nothing)
    per_attempt = 3
    attempts = n_events // per_attempt

    def rows():
        rec = [0] * (n_devices + 1)
        for a in range(attempts):
            dev = rng.randrange(1, n_devices + 1)
            t = now - rng.randrange(0, span)
            fail = rng.random() < 0.12
            coid = "%032x" % rng.getrandbits(128)
            rec[dev] += 1
            yield (dev, t - 2000, now, 20221, rec[dev], 4, ids["CORP\\user"],
                   ids["Always On VPN"], None, None, coid)
            rec[dev] += 1
            if fail:
                code = rng.choices(CODES, CODE_WEIGHTS)[0]
                yield (dev, t, now, 20227, rec[dev], 2, ids["CORP\\user"], ids["Always On VPN"],
                       code, None, coid)
            else:
                yield (dev, t, now, 20225, rec[dev], 4, ids["CORP\\user"], ids["Always On VPN"],
                       None, None, coid)
            rec[dev] += 1
            yield (dev, t + 3600000, now, 20226, rec[dev], 4, ids["CORP\\user"],
                   ids["Always On VPN"], None, 833, coid)

    con.executemany("INSERT INTO events(device, time, received, event_id, record_id, level, user,"
                    " connection, error_code, reason_code, coid) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                    rows())
    con.execute("COMMIT")
    # as schema 2 left it: the collector's migration 3 fills the rollups
    con.executescript("DROP TABLE rollup_attempts; DROP TABLE rollup_failures;"
                      " PRAGMA user_version = 2;")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    return n


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    r = conn.getresponse()
    data = r.read()
    dt = time.perf_counter() - t0
    conn.close()
    if r.status != 200:
        sys.exit("%s -> %d %s" % (path, r.status, data[:200]))
    return dt, json.loads(data)


def h_ms(text):
    """RFC 3339 UTC as the API writes it -> epoch ms."""
    return int(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))) * 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def sql_answers(db, frm, to):
    con = sqlite3.connect(db)
    q = {
        "overview": ("SELECT count(*), sum(event_id = 20227) FROM events"
                     " WHERE event_id IN (20225, 20227) AND time >= ? AND time < ?", (frm, to)),
        "errors": ("SELECT error_code, count(*), count(DISTINCT device) FROM events"
                   " WHERE event_id = 20227 AND time >= ? AND time < ? GROUP BY error_code",
                   (frm, to)),
        "trend": ("SELECT time / 3600000, count(*), sum(event_id = 20227) FROM events"
                  " WHERE event_id IN (20225, 20227) AND time >= ? AND time < ? GROUP BY 1",
                  (frm, to)),
        "findings": ("SELECT p.server, count(DISTINCT e.device) FROM events e JOIN vpn_policies p"
                     " ON p.device = e.device WHERE e.event_id = 20227 AND e.error_code = 809"
                     " AND e.time >= ? AND e.time < ? GROUP BY p.server", (frm, to)),
    }
    out = {}
    for name, (sql, args) in q.items():
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            rows = con.execute(sql, args).fetchall()
            times.append(time.perf_counter() - t0)
        out[name] = (statistics.median(times), rows)
    con.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--devices", type=int, default=100000)
    ap.add_argument("--events", type=int, default=10000000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-db", help="reuse (or create and keep) the populated database here")
    a = ap.parse_args()
    binary = os.path.join(a.build, "server", "rasfleet-collector")
    work = tempfile.mkdtemp(prefix="rf-readbench-")
    db = a.keep_db or os.path.join(work, "rf.db")
    try:
        t_pop = 0.0
        if a.keep_db and os.path.exists(db):
            n = sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]
        else:
            proc, port, _ = start_collector(binary, db, work)  # creates the schema
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            t0 = time.time()
            n = populate(db, a.devices, a.events, a.days, a.seed)
            t_pop = time.time() - t0
        t_migrate = float("nan")
        if sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] < 3:
            proc, port, t_first = start_collector(binary, db, work)  # migrates, then rebuilds
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            proc, port, t_start = start_collector(binary, db, work)
            t_migrate = t_first - t_start
        else:
            proc, port, t_start = start_collector(binary, db, work)
        with open("/proc/%d/status" % proc.pid) as f:
            rss = [l for l in f if l.startswith("VmRSS")][0].split()[1]
        paths = {
            "overview": "/api/v1/overview?window=24h",
            "errors": "/api/v1/errors?group_by=code&window=24h",
            "trend": "/api/v1/trend?bucket=1h&window=24h",
            "findings": "/api/v1/findings",
            "overview_30d": "/api/v1/overview?window=30d",
            "devices_page": "/api/v1/devices?limit=50&offset=500",
            # past the hot horizon: the daily rollups (fewer requests)
            "overview_365d": "/api/v1/overview?window=365d",
            "errors_365d": "/api/v1/errors?group_by=code&window=365d",
            "errors_srv_365d": "/api/v1/errors?group_by=server&window=365d",
            "trend_365d": "/api/v1/trend?bucket=7d&window=365d",
        }
        get(port, paths["findings"])  # first build of the findings document
        lat = {}
        answers = {}
        for name, path in paths.items():
            xs = []
            for _ in range(a.requests if "365d" not in name else max(10, a.requests // 10)):
                dt, body = get(port, path)
                xs.append(dt)
            answers[name] = body
            lat[name] = (pct(xs, 50) * 1000, pct(xs, 99) * 1000)
        ov = answers["overview"]
        frm = int(time.mktime(time.strptime(ov["from"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) * 1000
        to = int(time.mktime(time.strptime(ov["to"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) * 1000
        sq = sql_answers(db, frm, to)
        att, fail = sq["overview"][1][0]
        agree = ov["attempts"] == att and ov["failures"] == fail
        ov = answers["overview_365d"]
        sq_y = sql_answers(db, h_ms(ov["from"]), h_ms(ov["to"]))
        for name in ("overview", "errors", "trend"):
            sq[name + "_365d"] = sq_y[name]
        att_y, fail_y = sq_y["overview"][1][0]
        agree_y = ov["attempts"] == att_y and ov["failures"] == fail_y
        errs_y = {g["code"]: (g["failures"], g["devices"]) for g in answers["errors_365d"]["groups"]}
        agree_y = agree_y and errs_y == {c: (n, d) for c, n, d in sq_y["errors"][1]}
        print("fleet: %d devices, %d events over %d days (populated in %.0f s); collector start "
              "with hot-aggregate rebuild %.1f s, RSS %d MB; migration 3 (rollups filled from"
              " the events) %.1f s" %
              (a.devices, n, a.days, t_pop, t_start, int(rss) // 1024, t_migrate))
        print("overview 24h: attempts %d failures %d (SQL: %d %d) -> %s" %
              (answers["overview"]["attempts"], answers["overview"]["failures"], att, fail,
               "agree" if agree else "DISAGREE"))
        print("overview and errors by code 365d: attempts %d failures %d (SQL: %d %d), %d codes"
              " -> %s" % (ov["attempts"], ov["failures"], att_y, fail_y, len(errs_y),
                          "agree" if agree_y else "DISAGREE"))
        print("%-14s %10s %10s %12s %8s" % ("endpoint", "p50 ms", "p99 ms", "SQL ms", "ratio"))
        for name in paths:
            key = name if name in sq else None
            sql_ms = sq[key][0] * 1000 if key else float("nan")
            ratio = sql_ms / lat[name][0] if key else float("nan")
            print("%-14s %10.2f %10.2f %12.1f %8.0fx" % (name, lat[name][0], lat[name][1], sql_ms,
                                                          ratio))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        if not (agree and agree_y):
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
