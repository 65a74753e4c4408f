"""The multi-node layout of docs/deploy.md: deploy/haproxy/rasfleet.cfg,
deploy/nginx/rasfleet.conf and the systemd drop-in for PostgreSQL checked by
haproxy -c, nginx -t and systemd-analyze verify (each also shown to refuse a
broken file), and the
real haproxy (the shipped config with loopback addresses) in front of two
real collectors sharing one PostgreSQL database: simulated agents post
through it, one collector is killed with -9, haproxy's /healthz check takes
it out, and every batch that got a 200 is stored exactly once. Agents retry
a failed post (bounded in count and time), as the real agent does."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import rfharness as h

SRC = os.path.abspath(os.environ.get("RF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../..")))
CI = os.environ.get("CI") == "true"
HAPROXY_CFG = os.path.join(SRC, "deploy", "haproxy", "rasfleet.cfg")
NGINX_CONF = os.path.join(SRC, "deploy", "nginx", "rasfleet.conf")
NEED_PG = unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)

AGENTS, BATCHES, EVENTS = 4, 15, 5
RETRIES, DEADLINE_S = 40, 90


def tool(name):
    path = shutil.which(name) or (os.path.exists("/usr/sbin/" + name) and "/usr/sbin/" + name)
    if not path and CI:
        raise AssertionError(name + " is required in CI (deploy/install-deps.sh --test)")
    return path


def haproxy_stat(sock_path, field="status"):
    """{server name: field} from the stats socket ("status": UP/DOWN,
    "stot": requests sent to it)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") == "collectors" and row.get("svname") not in ("BACKEND", None):
            out[row["svname"]] = row[field]
    return out


class ConfigTest(unittest.TestCase):
    def test_haproxy_config_is_valid(self):
        exe = tool("haproxy")
        if not exe:
            self.skipTest("haproxy not installed")
        r = subprocess.run([exe, "-c", "-f", HAPROXY_CFG], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_haproxy_refuses_a_broken_config(self):
        """the check above can fail: a typo in a keyword is caught"""
        exe = tool("haproxy")
        if not exe:
            self.skipTest("haproxy not installed")
        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f, open(HAPROXY_CFG) as src:
            f.write(src.read().replace("http-check expect", "http-check expekt"))
            f.flush()
            r = subprocess.run([exe, "-c", "-f", f.name], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)

    def nginx_test(self, conf_path):
        exe = tool("nginx")
        if not exe:
            self.skipTest("nginx not installed")
        d = tempfile.mkdtemp(prefix="rasfleet-nginx-")
        try:
            main = os.path.join(d, "nginx.conf")
            with open(main, "w") as f:
                f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\n"
                        "http {\n access_log off;\n client_body_temp_path %s/body;\n"
                        " proxy_temp_path %s/proxy;\n include %s;\n}\n"
                        % (d, d, d, d, conf_path))
            return subprocess.run([exe, "-t", "-p", d, "-e", os.path.join(d, "error.log"),
                                   "-c", main], capture_output=True, text=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_nginx_config_is_valid(self):
        r = self.nginx_test(NGINX_CONF)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("syntax is ok", r.stderr)

    def test_nginx_refuses_a_broken_config(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f, open(NGINX_CONF) as src:
            f.write(src.read().replace("least_conn;", "least_conn"))
            f.flush()
            r = self.nginx_test(f.name)
        self.assertNotEqual(r.returncode, 0)


    def systemd_verify(self, edit=None):
        """systemd-analyze verify of the unit with the PostgreSQL drop-in
        next to it (verify loads drop-ins from the unit's folder)."""
        exe = tool("systemd-analyze")
        if not exe:
            self.skipTest("systemd-analyze not installed")
        d = tempfile.mkdtemp(prefix="rasfleet-systemd-")
        try:
            shutil.copy(os.path.join(SRC, "deploy", "rasfleet-collector.service"), d)
            dropin = os.path.join(d, "rasfleet-collector.service.d")
            shutil.copytree(os.path.join(SRC, "deploy", "systemd", "rasfleet-collector.service.d"),
                            dropin)
            conf = os.path.join(dropin, "postgresql.conf")
            with open(conf) as f:
                text = f.read()
            self.assertIn("--db \"postgresql://", text)
            self.assertNotIn(":PASSWORD@", text)  # the password comes from PGPASSFILE
            if edit:
                with open(conf, "w") as f:
                    f.write(edit(text))
            return subprocess.run([exe, "verify", os.path.join(d, "rasfleet-collector.service")],
                                  capture_output=True, text=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_systemd_dropin_verifies(self):
        r = self.systemd_verify()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_systemd_dropin_is_loaded(self):
        """without the ExecStart= reset the drop-in adds a second ExecStart,
        which verify refuses: the check above really reads the drop-in"""
        r = self.systemd_verify(lambda t: t.replace("ExecStart=\n", "", 1))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("more than one ExecStart", r.stderr)


@NEED_PG
class HaproxyFailoverTest(unittest.TestCase):
    def setUp(self):
        self.exe = tool("haproxy")
        if not self.exe:
            self.skipTest("haproxy not installed")
        self.dir = tempfile.mkdtemp(prefix="rasfleet-lb-")
        self.pgdb = h.postgres_cluster().create_database()
        self.collectors = [h.Collector(pg=self.pgdb).start() for _ in range(2)]
        self.port = h.free_port()
        self.sock = os.path.join(self.dir, "admin.sock")
        with open(HAPROXY_CFG) as f:
            cfg = f.read()
        # the shipped config, with loopback addresses, a private socket and
        # fewer connections (maxconn 20000 needs 40000 descriptors, which
        # haproxy.service has and a test shell may not)
        cfg = cfg.replace("maxconn 20000", "maxconn 1000")
        cfg = re.sub(r"(?m)^(\s*)bind 0\.0\.0\.0:8080$", r"\1bind 127.0.0.1:%d" % self.port, cfg)
        cfg = cfg.replace("/run/haproxy/admin.sock", self.sock)
        cfg = cfg.replace("log /dev/log local0", "log stderr format raw local0")
        for i, c in enumerate(self.collectors, 1):
            cfg = re.sub(r"(?m)^(\s*server collector%d) \S+" % i,
                         r"\1 127.0.0.1:%d" % c.port, cfg)
        if os.geteuid() != 0:
            cfg = re.sub(r"(?m)^\s*(chroot|user|group) .*$", "", cfg)
        self.assertIn("127.0.0.1:%d check" % self.collectors[1].port, cfg)
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.log = open(os.path.join(self.dir, "haproxy.log"), "wb")
        self.proxy = subprocess.Popen([self.exe, "-db", "-f", path], stdout=self.log,
                                      stderr=self.log)
        deadline = time.time() + 15
        while not os.path.exists(self.sock) or \
                set(haproxy_stat(self.sock).values()) != {"UP"}:
            self.assertIsNone(self.proxy.poll(), self.read_log())
            self.assertLess(time.time(), deadline, "haproxy did not see both collectors UP")
            time.sleep(0.2)

    def read_log(self):
        with open(os.path.join(self.dir, "haproxy.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tearDown(self):
        if getattr(self, "proxy", None):
            self.proxy.terminate()
            self.proxy.wait(timeout=10)
            self.log.close()
        for c in getattr(self, "collectors", []):
            c.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_kill9_one_collector_every_acked_batch_stored_once(self):
        front = h.Collector(workdir=self.dir)  # only its HTTP client: pointed at haproxy
        front.port = self.port
        acked = {}  # device -> [batch ids that got a 200]
        failures = []  # (time, agent, what) of posts that did not get a 200
        lock = threading.Lock()
        half = threading.Event()
        t_end = time.time() + DEADLINE_S

        def agent(n):
            dev = "lb-%d-%s" % (n, uuid.uuid4().hex[:8])
            for k in range(BATCHES):
                if n == 0 and k == BATCHES // 3:
                    half.set()
                batch = h.make_batch(device_id=dev, n_events=EVENTS,
                                     start_record=k * EVENTS + 1)
                for attempt in range(RETRIES):
                    if time.time() > t_end:
                        return
                    try:
                        s, _, body = front.post_batch(batch)
                    except OSError as e:
                        s, body = None, str(e)
                    if s == 200:
                        with lock:
                            acked.setdefault(dev, []).append(batch["batch_id"])
                        break
                    with lock:
                        failures.append((time.time(), n, s))
                    time.sleep(0.25)
                time.sleep(0.05)

        threads = [threading.Thread(target=agent, args=(n,)) for n in range(AGENTS)]
        for t in threads:
            t.start()
        half.wait(30)
        victim = self.collectors[0]
        # both collectors took posts before the kill (least connections)
        sent = haproxy_stat(self.sock, "stot")
        self.assertGreater(int(sent["collector1"]), 0, sent)
        self.assertGreater(int(sent["collector2"]), 0, sent)
        t_kill = time.time()
        victim.kill9()
        # haproxy's health check takes it out (fall 2, inter 1 s)
        # ("UP 1/2" while going down)
        while not haproxy_stat(self.sock)["collector1"].startswith("DOWN"):
            self.assertLess(time.time() - t_kill, 10, "collector1 not DOWN 10 s after kill -9")
            time.sleep(0.1)
        t_down = time.time() - t_kill
        sent_at_down = int(haproxy_stat(self.sock, "stot")["collector1"])
        self.assertEqual(haproxy_stat(self.sock)["collector2"], "UP")
        for t in threads:
            t.join(DEADLINE_S + 10)
        # once DOWN, nothing more is sent to it
        self.assertEqual(int(haproxy_stat(self.sock, "stot")["collector1"]), sent_at_down)
        late = [f for f in failures if f[0] > t_kill + t_down + 1]
        print("kill -9 -> DOWN in %.1f s; %d posts not answered 200 (%d after DOWN + 1 s);"
              " %d batches acked; sent before the kill: %s; after: %s"
              % (t_down, len(failures), len(late), sum(len(v) for v in acked.values()),
                 sent, haproxy_stat(self.sock, "stot")))
        # every agent got every batch through
        self.assertEqual(sorted(len(v) for v in acked.values()), [BATCHES] * AGENTS)
        # stored exactly once: one batch row per acked batch, and the events
        # of each device are those of its batches, each once
        for dev, ids in acked.items():
            rows = self.pgdb.sql("SELECT b.uid FROM batches b JOIN devices d ON d.id = b.device"
                                 " WHERE d.uid = ?", (dev,))
            self.assertEqual(sorted(r[0] for r in rows), sorted(ids), dev)
            self.assertEqual(self.pgdb.sql(
                "SELECT count(*), count(DISTINCT record_id), min(record_id), max(record_id)"
                " FROM events e JOIN devices d ON d.id = e.device WHERE d.uid = ?", (dev,)),
                [(BATCHES * EVENTS, BATCHES * EVENTS, 1, BATCHES * EVENTS)])
        # after the check took the collector out, agents are not bothered
        self.assertEqual(late, [])


if __name__ == "__main__":
    unittest.main()
