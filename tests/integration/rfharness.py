"""rfharness - start the real rasfleet-collector on 127.0.0.1 with a fresh
SQLite file (or a database in a throwaway PostgreSQL cluster) and talk to it
over real HTTP (Python standard library only); the agent's path and
environment, and a throwaway PKI for HTTPS tests.

Used by every integration test: the binaries come from $RF_BUILD_DIR (set
by ctest), fixtures from $RF_FIXTURES.
"""
import atexit
import calendar
import glob
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

BUILD_DIR = os.environ.get("RF_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
FIXTURES = os.environ.get("RF_FIXTURES", os.path.join(os.path.dirname(__file__), "../fixtures"))
ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex
AGENT = os.path.join(BUILD_DIR, "agent", "rasfleet-agent")


def collector_binary():
    for sub in ("server/rasfleet-collector", "rasfleet-collector", "bin/rasfleet-collector"):
        path = os.path.join(BUILD_DIR, sub)
        if os.path.exists(path):
            return path
    raise RuntimeError("rasfleet-collector not found under " + BUILD_DIR)


def agent_env(extra=None):
    """The environment of a rasfleet-agent run: without proxy variables
    (libcurl would send loopback requests to the proxy) and without the
    variables that change libcurl's and OpenSSL's CA bundle, so TLS checks
    see the defaults and the --ca-file they are given."""
    drop = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "curl_ca_bundle",
            "ssl_cert_file", "ssl_cert_dir")
    env = {k: v for k, v in os.environ.items() if k.lower() not in drop}
    if extra:
        env.update(extra)
    return env


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as f:
        return f.read()


def start_all(collectors, tmp_dirs=()):
    """Starts every collector of a test class; if one fails to start, cleans
    them all and tmp_dirs up before re-raising."""
    try:
        for c in collectors:
            c.start()
    except Exception:
        for c in collectors:
            c.cleanup()
        for d in tmp_dirs:
            shutil.rmtree(d, ignore_errors=True)
        raise


def stop_all(collectors, tmp_dirs=()):
    """Stops and cleans up the collectors started by start_all and removes
    tmp_dirs; asserts that each one exited 0 (their logs in the message)."""
    rcs = tuple(c.stop() for c in collectors)
    logs = "".join(c.read_log() for c in collectors)
    for c in collectors:
        c.cleanup()
    for d in tmp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    assert rcs == (0,) * len(rcs), "a collector did not stop cleanly: %s\n%s" % (rcs, logs)


AGENT_FIXTURE_GROUPS = ("events", "pbk", "netip", "vpnconnection")


def copy_agent_fixtures(dst):
    """Copies every sample file the agent reads (tests/fixtures/events, pbk,
    netip, vpnconnection) into the directory dst, side by side."""
    for g in AGENT_FIXTURE_GROUPS:
        d = os.path.join(FIXTURES, g)
        for name in os.listdir(d):
            shutil.copyfile(os.path.join(d, name), os.path.join(dst, name))


def make_test_pki(d):
    """A throwaway PKI made with the openssl CLI in directory d, for HTTPS
    tests. Returns {name: path} of:
      ca.pem                       a CA
      server.pem, server.key       signed by it for localhost and 127.0.0.1
      wrong-host.pem, wrong-host.key
                                   signed by it for vpn-collector.example.net only
      other.pem                    an unrelated CA
    Certificates are valid for two days."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)

    def server_cert(name, cn, san):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + cn)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=rasfleet test CA")
    server_cert("server", "localhost", "DNS:localhost,IP:127.0.0.1")
    server_cert("wrong-host", "vpn-collector.example.net", "DNS:vpn-collector.example.net")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
        "other.pem", "-days", "2", "-subj", "/CN=someone else")
    return {k: os.path.join(d, k) for k in ("ca.pem", "server.pem", "server.key",
                                            "wrong-host.pem", "wrong-host.key", "other.pem")}


class Collector:
    """One collector process on an ephemeral loopback port."""

    def __init__(self, workdir=None, extra_args=(), env=None, db=None, settings=None, pg=None):
        """pg: a PgDatabase (see PostgresCluster) to store into instead of
        SQLite; sql() then queries it."""
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="rasfleet-it-")
        self.pg = pg
        self.db = pg.url if pg else (db or os.path.join(self.dir, "rasfleet.db"))
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
        if self.pg:
            return self.pg.sql(query, args)
        con = sqlite3.connect(self.db, timeout=30)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def run_cli(self, *args):
        return subprocess.run([collector_binary()] + list(args) + ["--db", self.db],
                              env=self.env, capture_output=True, text=True, timeout=60)


def agent_reports(collector, device_id):
    """agent_status records a collector stored for a device (agent_status.reports):
    each came in a batch of its own, which telemetry counts leave out."""
    rows = collector.sql(
        "SELECT s.reports FROM agent_status s JOIN devices d ON d.id = s.device"
        " WHERE d.uid = ?", (device_id,))
    return rows[0][0] if rows else 0


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


def make_status_batch(device_id=None, batch_id=None, dropped=0, dropped_records=None,
                      rejected=0, spool_bytes=0, spool_batches=0, time_str=None, **extra):
    """A batch holding one agent_status record (the api.md extension)."""
    status = {"kind": "agent_status",
              "time": time_str or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "agent_version": "0.1.0", "spool_bytes": spool_bytes,
              "spool_batches": spool_batches, "spool_limit_bytes": 1 << 20,
              "dropped_batches_total": dropped,
              "dropped_records_total": dropped * 10 if dropped_records is None else dropped_records,
              "rejected_batches_total": rejected}
    status.update(extra)
    return {"schema": 1, "batch_id": batch_id or str(uuid.uuid4()),
            "agent": {"device_id": device_id or str(uuid.uuid4()), "hostname": "LT-STATUS",
                      "os_version": "10.0.22631", "agent_version": "0.1.0"},
            "records": [status]}


# ---- PostgreSQL: a throwaway cluster per test process ----

PG_SKIP_MESSAGE = ("PostgreSQL server binaries (initdb, pg_ctl) not found: install the"
                   " Debian package postgresql (deploy/install-deps.sh --test does)")


def postgres_bindir():
    """The bin directory of the newest installed PostgreSQL server ($RF_PG_BINDIR
    wins), or None when the server binaries are absent."""
    dirs = [os.environ["RF_PG_BINDIR"]] if os.environ.get("RF_PG_BINDIR") else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: int(re.sub(r"\D", "", d.split("/")[-2]) or 0), reverse=True)
    for d in dirs:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """initdb into a temporary directory, a server on a unix socket in that
    directory and on 127.0.0.1:<free port>, a login role for the collector;
    stop() stops it and deletes everything. The server refuses to run as
    root, so as root every server command runs as the `postgres` user."""

    ROLE = "rasfleet"
    PASSWORD = "rf-test-" + uuid.uuid4().hex[:12]

    def __init__(self, fsync=False):
        self.bindir = postgres_bindir()
        if not self.bindir:
            raise RuntimeError(PG_SKIP_MESSAGE)
        self.fsync = fsync
        self.dir = None
        self.port = None
        self.running = False
        self.psql_bin = shutil.which("psql") or os.path.join(self.bindir, "psql")

    def _as_server_user(self, args):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + args
        return args

    def _run(self, args, timeout=120):
        r = subprocess.run(self._as_server_user(args), capture_output=True, text=True,
                           timeout=timeout, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s%s" % (args[0], r.returncode, r.stdout,
                                                         r.stderr))
        return r

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="rasfleet-pg-")
        atexit.register(self.stop)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres",
                   "-E", "UTF8", "--locale=C", "--auth-local=trust",
                   "--auth-host=scram-sha-256", "--no-sync", "--no-instructions"])
        self.port = free_port()
        self.start_server()
        self.psql("postgres", "CREATE ROLE %s LOGIN PASSWORD '%s'" % (self.ROLE, self.PASSWORD))
        return self

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    def start_server(self):
        opts = ("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=60"
                " -c shared_buffers=64MB -c fsync=%s -c deadlock_timeout=200ms"
                % (self.port, self.dir, "on" if self.fsync else "off"))
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l",
                   os.path.join(self.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"])
        self.running = True

    def stop_server(self, mode="fast"):
        if self.running:
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                       "stop"])
            self.running = False

    def stop(self):
        """Stops the server and deletes the cluster (idempotent)."""
        if not self.dir:
            return
        try:
            self.stop_server("immediate")
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            sys.stderr.write("warning: stopping the test PostgreSQL: %s\n" % e)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def psql(self, dbname, query):
        """Runs query as the superuser over the unix socket; rows as tuples
        (ints converted, NULL as None)."""
        r = subprocess.run([self.psql_bin] + self.PSQL_FORMAT +
                           ["-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
                            "-U", "postgres", "-d", dbname, "-c", query],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("psql: %s\n%s" % (query, r.stderr))
        return _psql_rows(r.stdout)

    PSQL_FORMAT = ["-X", "-q", "-A", "-t", "-F", "\x1f", "-R", "\x1d", "-P", "null=\x1e"]

    def create_database(self, name=None, keep_session=False):
        """keep_session: sql() goes through one psql process kept open (a
        process per query costs 0.1-0.2 s here); for tests that run
        hundreds of queries and never cut the database's connections."""
        name = name or "rf_" + uuid.uuid4().hex[:12]
        self.psql("postgres", "CREATE DATABASE %s OWNER %s ENCODING 'UTF8'" % (name, self.ROLE))
        return PgDatabase(self, name, keep_session)


def _psql_rows(out):
    """Rows as tuples from psql's output in PostgresCluster.PSQL_FORMAT."""
    rows = []
    out = out[:-1] if out.endswith("\n") else out
    for line in out.split("\x1d"):  # values may hold newlines
        if line == "":
            continue
        rows.append(tuple(_pg_value(v) for v in line.split("\x1f")))
    return rows


class _PsqlSession:
    """One psql process reading queries from a pipe: after each query it
    echoes a marker line with psql's ERROR variable, which ends the
    query's output."""

    def __init__(self, cluster, dbname):
        c = cluster
        self.marker = "--rf-end-" + uuid.uuid4().hex
        self.proc = subprocess.Popen(
            [c.psql_bin] + c.PSQL_FORMAT + ["-h", c.dir, "-p", str(c.port), "-U", "postgres",
                                            "-d", dbname],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, encoding="utf-8")
        atexit.register(self.close)
        self.run("SET client_min_messages = warning")  # no notices among the rows

    def run(self, query):
        if self.proc.poll() is not None:
            raise RuntimeError("psql session ended (%s)" % self.proc.returncode)
        self.proc.stdin.write(query.rstrip().rstrip(";") + ";\n\\echo %s :ERROR\n" % self.marker)
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("psql session ended: %s\n%s" % (query, "".join(lines)))
            if line.startswith(self.marker + " "):
                break
            lines.append(line)
        out = "".join(lines)
        if line.split()[-1] != "false":
            raise RuntimeError("psql: %s\n%s" % (query, out))
        return _psql_rows(out)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def _pg_value(v):
    """psql's text for a value as SQLite's module would give it: None,
    int, bytes (bytea prints as \\x<hex>) or str."""
    if v == "\x1e":
        return None
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"\\x(?:[0-9a-f]{2})+", v):
        return bytes.fromhex(v[2:])
    return v


class PgDatabase:
    """One database of a PostgresCluster, as a collector sees it (url) and as
    a test checks it (sql, with SQLite-style ? parameters)."""

    def __init__(self, cluster, name, keep_session=False):
        self.cluster = cluster
        self.name = name
        self.keep_session = keep_session
        self.session = None

    @property
    def url(self):
        c = self.cluster
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (c.ROLE, c.PASSWORD, c.port, self.name)

    def sql(self, query, args=()):
        parts = query.split("?")
        if len(parts) != len(args) + 1:
            raise ValueError("%d parameters for %d placeholders" % (len(args), len(parts) - 1))
        text = parts[0]
        for value, rest in zip(args, parts[1:]):
            if isinstance(value, int):
                text += str(value) + rest
            else:
                text += "'" + str(value).replace("'", "''") + "'" + rest
        if not self.keep_session:
            return self.cluster.psql(self.name, text)
        if self.session is None:
            self.session = _PsqlSession(self.cluster, self.name)
        return self.session.run(text)


_CLUSTER = None


def postgres_cluster():
    """The test process's PostgreSQL cluster, started on first use and
    deleted at exit (also when a test fails or the run is interrupted)."""
    global _CLUSTER
    if _CLUSTER is None:
        _CLUSTER = PostgresCluster().start()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs atexit
    return _CLUSTER
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
        q = ("SELECT count(*), coalesce(sum(CASE WHEN event_id = 20227 THEN 1 ELSE 0 END), 0)"
             " FROM events"
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
