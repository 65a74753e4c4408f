"""rasfleet-agent.exe, the MinGW cross build of deploy/windows/cross-build.sh,
run under wine against the real collector on loopback: the same fixtures as
test_agent.py delivered exactly once through the WinHTTP sender, the
collector down then back (spool kept), a refused token, non-ASCII paths on
the command line, --native where wine lacks the Windows APIs. Every check
reads the collector's SQLite file or the agent's own files.

The .exe: $RF_WIN_AGENT_EXE, else $RF_SOURCE_DIR/build-win/agent/
rasfleet-agent.exe. wine: $RF_WINE, else `wine` or `wine64` on PATH
(Debian: apt-get install --no-install-recommends wine wine64). Without
either the tests are skipped, except when CI=true and RF_WINDOWS_TESTS=1:
then a missing wine or .exe fails. Each wine prefix is a fresh temporary
directory; every wait is bounded.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import unittest
import uuid

import rfharness as h

SOURCE_DIR = os.environ.get("RF_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EXE = os.environ.get("RF_WIN_AGENT_EXE",
                     os.path.join(SOURCE_DIR, "build-win", "agent", "rasfleet-agent.exe"))
REQUIRED = os.environ.get("CI") == "true" and os.environ.get("RF_WINDOWS_TESTS") == "1"
RUN_TIMEOUT = 120      # one agent run under wine
BOOT_TIMEOUT = 240     # a new wine prefix (about 8 s on a 2-core VM)
FAST_FAIL = ["--retry-attempts", "2", "--retry-base", "100ms", "--retry-max-delay", "200ms",
             "--retry-budget", "1s", "--connect-timeout", "1s", "--timeout", "10s"]


def find_wine():
    if os.environ.get("RF_WINE"):
        return shutil.which(os.environ["RF_WINE"])
    return shutil.which("wine") or shutil.which("wine64")


def find_wineserver(wine):
    for n in ("wineserver", "wineserver-stable"):
        p = shutil.which(n)
        if p:
            return p
    for p in ("/usr/lib/wine/wineserver64", "/usr/lib/wine/wineserver",
              os.path.join(os.path.dirname(os.path.realpath(wine)), "wineserver")):
        if os.path.exists(p):
            return p
    return None


def winpath(path):
    """The Windows name of a local path: wine maps / to drive Z:."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def spool_batches(state):
    d = os.path.join(state, "spool")
    return sorted(n for n in os.listdir(d) if n.endswith(".batch")) if os.path.isdir(d) else []


class WindowsAgentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.wine = find_wine()
        missing = []
        if not cls.wine:
            missing.append("wine is not installed (apt-get install --no-install-recommends "
                           "wine wine64)")
        if not os.path.isfile(EXE):
            missing.append("%s is not built (deploy/windows/cross-build.sh)" % EXE)
        if missing:
            if REQUIRED:
                raise AssertionError("CI=true and RF_WINDOWS_TESTS=1, but " + "; ".join(missing))
            raise unittest.SkipTest("; ".join(missing))
        cls.wineserver = find_wineserver(cls.wine)
        cls.prefix = tempfile.mkdtemp(prefix="rf-wine-")
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                                    "display", "wayland_display")
               and not k.startswith("WINE")}
        # no GUI, no Mono/Gecko installers, no debug chatter
        env.update(WINEPREFIX=cls.prefix, WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
        cls.env = env
        try:
            # One wineserver for the class: without it every wine run starts its own,
            # which lingers a few seconds after the run holding the run's stdout.
            if cls.wineserver:
                subprocess.run([cls.wineserver, "-p"], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            p = cls.run_wine(["wineboot", "--init"], BOOT_TIMEOUT)
            if p.returncode != 0:
                raise AssertionError("wineboot --init exited %d:\n%s" % (p.returncode, p.stderr))
            cls.c = h.Collector()
            cls.c.start()
        except BaseException:
            cls.stop_wine()
            raise

    @classmethod
    def stop_wine(cls):
        # ends this prefix's wineserver (and the wine processes it serves)
        if cls.wineserver:
            try:
                subprocess.run([cls.wineserver, "-k"], env=cls.env, capture_output=True,
                               timeout=30)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(cls.prefix, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            h.stop_all((cls.c,))
        finally:
            cls.stop_wine()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rf-agent-win-")
        self.src = os.path.join(self.tmp, "src")
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.src)
        self.device = "win-smoke-" + uuid.uuid4().hex[:12]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers ----
    def url(self, port=None):
        return "http://127.0.0.1:%d" % (port or self.c.port)

    @classmethod
    def run_wine(cls, args, timeout):
        """wine ARGS with stdout and stderr in files, not pipes: wine's own background
        processes (wineserver, services.exe) inherit them and would hold a pipe open."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run([cls.wine] + list(args), env=cls.env, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=err, timeout=timeout)
            texts = []
            for f in (out, err):
                f.seek(0)
                texts.append(f.read().decode("utf-8", "replace"))
        return subprocess.CompletedProcess(p.args, p.returncode, texts[0], texts[1])

    def wine_run(self, *args):
        return self.run_wine([EXE] + list(args), RUN_TIMEOUT)

    def run_agent(self, *extra, port=None, token=h.ADMIN_TOKEN, src=None, state=None):
        args = ["--once", "--collector", self.url(port), "--token", token,
                "--state-dir", winpath(state or self.state), "--device-id", self.device]
        if src is not False:
            args += ["--source-dir", winpath(src or self.src)]
        return self.wine_run(*(args + list(extra)))

    def assertRun(self, p, code):
        self.assertEqual(p.returncode, code, "exit %d, stderr:\n%s" % (p.returncode, p.stderr))

    def copy_fixtures(self, dst=None):
        h.copy_agent_fixtures(dst or self.src)

    def count(self, table):
        return self.c.sql(
            "SELECT count(*) FROM %s t JOIN devices d ON d.id = t.device WHERE d.uid = ?" % table,
            (self.device,))[0][0]

    def reports(self):
        """agent_status records stored for this device."""
        return h.agent_reports(self.c, self.device)

    def counts(self):
        """Telemetry rows and batches (the agent's own reports left out)."""
        c = {t: self.count(t)
             for t in ("events", "iface_metrics", "pbk_entries", "vpn_policies", "batches")}
        c["batches"] -= self.reports()
        return c

    def record_ids(self):
        return [r[0] for r in self.c.sql(
            "SELECT e.record_id FROM events e JOIN devices d ON d.id = e.device WHERE d.uid = ?"
            " ORDER BY e.record_id", (self.device,))]

    def status(self, state=None):
        with open(os.path.join(state or self.state, "status.json"), encoding="utf-8") as f:
            return json.load(f)

    # ---- tests ----
    def test_help_version_usage(self):
        p = self.wine_run("--help")
        self.assertRun(p, 0)
        self.assertIn("usage: rasfleet-agent", p.stdout)
        p = self.wine_run("--version")
        self.assertRun(p, 0)
        self.assertEqual(p.stdout.strip(), "rasfleet-agent 0.1.0")
        p = self.wine_run("--no-such-flag")
        self.assertRun(p, 2)
        self.assertIn("--no-such-flag", p.stderr)

    def test_fixtures_delivered_exactly_once(self):
        self.copy_fixtures()
        p = self.run_agent()
        self.assertRun(p, 0)
        # the 4 events of rasclient-wevtutil.xml (also in the other 3 exports): once each
        self.assertEqual(self.record_ids(), [418190, 418233, 418240, 418611])
        self.assertEqual(self.counts(), {"events": 4, "iface_metrics": 5, "pbk_entries": 4,
                                         "vpn_policies": 4, "batches": 1})
        self.assertEqual(self.c.sql(
            "SELECT error_code FROM events e JOIN devices d ON d.id = e.device"
            " WHERE d.uid = ? AND record_id = 418233", (self.device,)), [(809,)])
        self.assertEqual(self.c.sql(
            "SELECT coalesce(sum(b.records), 0) FROM batches b JOIN devices d ON d.id = b.device"
            " WHERE d.uid = ?", (self.device,))[0][0] - self.reports(), 17)
        self.assertEqual(self.reports(), 1)
        host, os_version, agent_version = self.c.sql(
            "SELECT hostname, os_version, agent_version FROM devices WHERE uid = ?",
            (self.device,))[0]
        # GetComputerNameEx(ComputerNamePhysicalNetBIOS): upper case, at most 15 characters
        self.assertTrue(host and socket.gethostname().lower().startswith(host.lower()), host)
        self.assertRegex(os_version, r"^\d+\.\d+\.\d+$")  # RtlGetVersion
        self.assertEqual(agent_version, "0.1.0")
        self.assertEqual(spool_batches(self.state), [])
        st = self.status()
        self.assertEqual(st["last_cycle"]["exit_code"], 0)
        self.assertEqual(st["last_cycle"]["records_spooled"], 17)
        self.assertEqual(st["problems"], [])

        before = self.counts()
        p = self.run_agent()
        self.assertRun(p, 0)
        self.assertEqual(self.counts(), before)  # nothing sent again, not even an empty batch
        self.assertEqual(self.reports(), 1)  # nor a status report: nothing changed
        self.assertEqual(self.status()["last_cycle"]["files_unchanged"], 11)

    def test_collector_down_then_refused_token_then_delivered(self):
        shutil.copyfile(os.path.join(h.FIXTURES, "events", "rasclient-wevtutil.xml"),
                        os.path.join(self.src, "rasclient-wevtutil.xml"))
        p = self.run_agent(*FAST_FAIL, port=free_port())
        self.assertRun(p, 1)
        self.assertIn("WinHTTP error", p.stderr)
        self.assertEqual(len(spool_batches(self.state)), 1)
        self.assertEqual(self.count("events"), 0)
        p = self.run_agent(*FAST_FAIL, token="not-a-valid-token-0123456789")
        self.assertRun(p, 3)
        self.assertEqual(len(spool_batches(self.state)), 1)  # the spool is kept
        # the delivering run keeps the default timeouts and retries: under a
        # loaded machine (sanitizer build, parallel tests) 1 s budgets are flaky
        p = self.run_agent()
        self.assertRun(p, 0)
        self.assertEqual(self.record_ids(), [418190, 418233, 418240, 418611])
        self.assertEqual(spool_batches(self.state), [])

    def test_non_ascii_paths_on_the_command_line(self):
        # Windows passes argv in the ANSI code page; win/wmain.c hands main() UTF-8
        src = os.path.join(self.tmp, "Quellen-José")
        state = os.path.join(self.tmp, "Zustand-Ünïcödé")
        os.mkdir(src)
        shutil.copyfile(os.path.join(h.FIXTURES, "events", "rasclient-wevtutil.xml"),
                        os.path.join(src, "ereignisse-ä.xml"))
        p = self.run_agent(src=src, state=state)
        self.assertRun(p, 0)
        self.assertEqual(self.record_ids(), [418190, 418233, 418240, 418611])
        self.assertTrue(os.path.isfile(os.path.join(state, "status.json")))
        self.assertEqual(self.status(state)["problems"], [])

    def test_native_sources_missing_in_wine_are_reported_not_fatal(self):
        # wine 8 has no event log channel (EvtQuery fails) and no GetIpInterfaceTable:
        # each such source is a problem of its own; the cycle still succeeds
        p = self.run_agent("--native", src=False)
        self.assertRun(p, 0)
        for prob in self.status()["problems"]:
            self.assertIn(prob["path"], ("interfaces", "eventlog:Application"), prob)
            self.assertRegex(prob["reason"], r"failed \(error \d+\)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
