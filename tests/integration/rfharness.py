"""rfharness - start the real rasfleet-collector on 127.0.0.1 with a fresh
SQLite file and talk to it over real HTTP (Python standard library only).

Used by every integration test: the collector binary comes from
$RF_BUILD_DIR (set by ctest), fixtures from $RF_FIXTURES.
"""
import calendar
import gzip
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import uuid

BUILD_DIR = os.environ.get("RF_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
FIXTURES = os.environ.get("RF_FIXTURES", os.path.join(os.path.dirname(__file__), "../fixtures"))
ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex


def collector_binary():
    for sub in ("server/rasfleet-collector", "rasfleet-collector", "bin/rasfleet-collector"):
        path = os.path.join(BUILD_DIR, sub)
        if os.path.exists(path):
            return path
    raise RuntimeError("rasfleet-collector not found under " + BUILD_DIR)


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as f:
        return f.read()


class Collector:
    """One collector process on an ephemeral loopback port."""

    def __init__(self, workdir=None, extra_args=(), env=None, db=None, settings=None):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="rasfleet-it-")
        self.db = db or os.path.join(self.dir, "rasfleet.db")
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, RASFLEET_ADMIN_TOKEN=ADMIN_TOKEN)
        if env:
            self.env.update(env)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "collector.log")
        self.scheme = "http"
        if settings:
            # a config file with these settings (key = value), e.g. rate limits
            path = os.path.join(self.dir, "rasfleet-test.conf")
            with open(path, "w") as f:
                for key, value in settings.items():
                    f.write("%s = %s\n" % (key, value))
            self.extra_args = ["--config", path] + self.extra_args

    def start(self, timeout=15):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(self.log_path, "ab")
        args = [collector_binary(), "--listen", "127.0.0.1:0", "--db", self.db,
                "--port-file", port_file] + self.extra_args
        self.proc = subprocess.Popen(args, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("collector exited early:\n" + self.read_log())
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return self
            time.sleep(0.02)
        raise RuntimeError("collector did not start:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the process; returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        if self.proc:
            self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers dict (lower-case keys), body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=headers or {})
            except (BrokenPipeError, ConnectionResetError):
                # The collector answered early (e.g. 413) and closed while we
                # were still sending: its answer is already in our socket.
                pass
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def post_batch(self, batch, token=ADMIN_TOKEN, gzip_it=False, headers=None):
        body = batch if isinstance(batch, (bytes, bytearray)) else json.dumps(batch).encode()
        h = {"Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if gzip_it:
            body = gzip.compress(body)
            h["Content-Encoding"] = "gzip"
        if headers:
            h.update(headers)
        status, rh, data = self.request("POST", "/api/v1/ingest", body, h)
        return status, rh, parse_json(data)

    def get_json(self, path, token=ADMIN_TOKEN):
        h = {"Authorization": "Bearer " + token} if token else {}
        status, rh, data = self.request("GET", path, headers=h)
        return status, parse_json(data)

    def sql(self, query, args=()):
        con = sqlite3.connect(self.db, timeout=30)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def run_cli(self, *args):
        return subprocess.run([collector_binary()] + list(args) + ["--db", self.db],
                              env=self.env, capture_output=True, text=True, timeout=60)


def parse_json(data):
    try:
        return json.loads(data) if data else None
    except ValueError:
        return {"_raw": data}


def make_batch(device_id=None, batch_id=None, n_events=3, start_record=1, code=809,
               hostname="LT-TEST", time_str="2026-11-20T08:01:02.123Z"):
    device_id = device_id or str(uuid.uuid4())
    batch_id = batch_id or str(uuid.uuid4())
    records = []
    for i in range(n_events):
        records.append({
            "kind": "ras_event", "time": time_str, "event_id": 20227,
            "record_id": start_record + i, "level": "error", "user": "CORP\\alice",
            "connection": "Always On VPN", "error_code": code,
            "coid": str(uuid.uuid4()).upper(),
        })
    return {"schema": 1, "batch_id": batch_id,
            "agent": {"device_id": device_id, "hostname": hostname,
                      "os_version": "10.0.22631", "agent_version": "0.1.0"},
            "records": records}


def ms(text):
    """RFC 3339 UTC (as the API writes it) -> epoch ms."""
    base, frac = text.rstrip("Z"), "0"
    if "." in base:
        base, frac = base.split(".", 1)
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac[:3].ljust(3, "0"))


class ReadApiChecks:
    """Read-API answers against SQL over the raw rows of the collector's own
    database (self.c, a Collector), over each answer's own [from, to): mixed
    into the unittest.TestCase of test_read_api.py and test_rollups.py.

    Definitions checked (server/api.c): an attempt is one outcome event
    (20225 success or 20227 failure); errors group_by server uses the
    device's latest vpn_policy snapshot for the failing event's connection
    ("unknown" when none); os_version/agent_version are the device's current
    values.
    """

    def get(self, path, status=200, token=None):
        st, body = self.c.get_json(path, token=token or ADMIN_TOKEN)
        self.assertEqual(st, status, "%s: %s" % (path, body))
        return body

    def window(self, body):
        return ms(body["from"]), ms(body["to"])

    def sql_outcomes(self, frm, to, code=None):
        q = ("SELECT count(*), coalesce(sum(event_id = 20227), 0) FROM events"
             " WHERE event_id IN (20225, 20227) AND time >= ? AND time < ?")
        attempts, failures = self.c.sql(q, (frm, to))[0]
        if code is not None:
            failures = self.c.sql("SELECT count(*) FROM events WHERE event_id = 20227 AND"
                                  " coalesce(error_code, 0) = ? AND time >= ? AND time < ?",
                                  (code, frm, to))[0][0]
        return attempts, failures

    def sql_groups(self, by, frm, to, code=None):
        key = {
            "code": "coalesce(e.error_code, 0)",
            "connection": "c.s",
            "os_version": "coalesce(d.os_version, 'unknown')",
            "agent_version": "coalesce(d.agent_version, 'unknown')",
            "server": "coalesce(sv.s, 'unknown')",
        }[by]
        q = ("WITH lp AS (SELECT p.device, p.connection, p.server FROM vpn_policies p"
             "  WHERE p.time = (SELECT max(q.time) FROM vpn_policies q WHERE q.device = p.device))"
             " SELECT %s, count(*), count(DISTINCT e.device) FROM events e"
             " JOIN devices d ON d.id = e.device JOIN dict c ON c.id = e.connection"
             " LEFT JOIN lp ON lp.device = e.device AND lp.connection = e.connection"
             " LEFT JOIN dict sv ON sv.id = lp.server"
             " WHERE e.event_id = 20227 AND e.time >= ? AND e.time < ? %s GROUP BY 1"
             % (key, "AND coalesce(e.error_code, 0) = ?" if code is not None else ""))
        args = (frm, to) + ((code,) if code is not None else ())
        return {(str(k) if by != "code" else k): (n, nd) for k, n, nd in self.c.sql(q, args)}

    def api_groups(self, body, by):
        out = {}
        for g in body["groups"]:
            k = g["code"] if by == "code" else g["key"]
            self.assertNotIn(k, out, "group %r twice" % (k,))
            out[k] = (g["failures"], g["devices"])
        fails = [g["failures"] for g in body["groups"]]
        self.assertEqual(fails, sorted(fails, reverse=True), "groups not sorted by failures")
        return out

    def check_trend(self, query, code=None):
        body = self.get("/api/v1/trend?" + query)
        frm, to = self.window(body)
        bucket = body["bucket_seconds"] * 1000
        self.assertEqual(body["code"], code)
        pts = body["points"]
        self.assertTrue(pts)
        self.assertLessEqual(ms(pts[0]["t"]), frm)
        self.assertGreater(ms(pts[0]["t"]) + bucket, frm)
        self.assertLess(ms(pts[-1]["t"]), to)
        self.assertGreaterEqual(ms(pts[-1]["t"]) + bucket, to)
        total_a = total_f = 0
        for i, p in enumerate(pts):
            t = ms(p["t"])
            self.assertEqual(t % bucket, 0, "buckets are aligned to the bucket size")
            if i:
                self.assertEqual(t - ms(pts[i - 1]["t"]), bucket)
            lo, hi = max(t, frm), min(t + bucket, to)
            self.assertEqual((p["attempts"], p["failures"]), self.sql_outcomes(lo, hi, code),
                             "%s bucket %s" % (query, p["t"]))
            total_a += p["attempts"]
            total_f += p["failures"]
        self.assertEqual((total_a, total_f), self.sql_outcomes(frm, to, code))
        # series: the top codes (and "other") per bucket
        for s in body["series"]:
            self.assertEqual(len(s["failures"]), len(pts))
            for p, n in zip(pts, s["failures"]):
                t = ms(p["t"])
                lo, hi = max(t, frm), min(t + bucket, to)
                if s["code"] is None:
                    top = [x["code"] for x in body["series"] if x["code"] is not None]
                    want = self.c.sql(
                        "SELECT count(*) FROM events WHERE event_id = 20227 AND time >= ? AND"
                        " time < ? AND coalesce(error_code, 0) NOT IN (%s)"
                        % ",".join(str(int(x)) for x in top), (lo, hi))[0][0]
                else:
                    want = self.sql_outcomes(lo, hi, s["code"])[1]
                self.assertEqual(n, want, "series %s bucket %s" % (s["code"], p["t"]))
        return body
