"""Static checks of deploy/windows/Install-RasfleetAgent.ps1 (Debian has no
PowerShell to run it), with the tokenizer of test_intune_scripts.py: ASCII
only, balanced brackets, exit codes 0 and 1 only with the script body in a
try whose catch exits 1, the parameters, a task that runs the agent --once
as SYSTEM every N minutes with the config it writes, and -Uninstall.

Standard library only; runs without a build."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_intune_scripts as ps  # noqa: E402  (helpers only; its tests are not re-run here)

SCRIPT = os.path.join(ps.SRC, "deploy", "windows", "Install-RasfleetAgent.ps1")


class InstallScriptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(SCRIPT, "rb") as f:
            cls.raw_bytes = f.read()
        cls.raw = cls.raw_bytes.decode("ascii")
        cls.code = ps.code_only(cls.raw)

    def test_ascii_only(self):
        self.raw_bytes.decode("ascii")  # Windows PowerShell 5.1 reads BOM-less files as ANSI

    def test_brackets_balanced(self):
        self.assertEqual(ps.bracket_problems(self.code), [])

    def test_param_block_first(self):
        self.assertRegex(self.code, r"^\s*\[CmdletBinding\(\)\]\s*param\s*\(")

    def test_parameters(self):
        m = re.search(r"\bparam\s*\(", self.code)
        start = m.end() - 1
        params = self.code[start:ps.matching(self.code, start) + 1]
        for name in ("CollectorUrl", "Token", "AgentPath", "InstallDir", "DataDir", "SourceDir",
                     "DeviceId", "CaFile"):
            self.assertRegex(params, r"\[string\]\$%s\b" % name)
        self.assertRegex(params, r"\[int\]\$IntervalMinutes\s*=\s*15")
        self.assertRegex(params, r"\[switch\]\$Uninstall\b")
        self.assertRegex(params, r"\[switch\]\$PurgeData\b")

    def test_exit_codes_only_0_and_1(self):
        codes = re.findall(r"\bexit\b\s*([^\s;}]*)", self.code, re.I)
        self.assertEqual(sorted(codes), ["0", "1"])

    def test_errors_stop_and_catch_exits_1(self):
        self.assertRegex(self.raw, r"\$ErrorActionPreference\s*=\s*'Stop'")
        catches = ps.blocks_after(self.code, r"\bcatch")
        self.assertEqual(len(catches), 1)
        self.assertRegex(catches[0][2], r"\bexit\s+1\b")
        self.assertEqual(self.code[catches[0][1] + 1:].strip(), "", "code after the final catch")

    def test_task_runs_once_as_system_every_n_minutes(self):
        self.assertIn("Register-ScheduledTask", self.raw)
        self.assertRegex(self.raw, r"New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount")
        self.assertRegex(self.raw, r"-Argument \"--once --config `\"\$conf`\"\"")
        self.assertRegex(self.raw, r"-RepetitionInterval \(New-TimeSpan -Minutes \$IntervalMinutes\)")
        self.assertIn("-MultipleInstances IgnoreNew", self.raw)

    def test_config_keys_are_agent_keys(self):
        keys = set(re.findall(r"[\"']([a-z_]+) = ", self.raw))
        self.assertEqual(sorted(keys), ["collector", "device_id", "native", "source_dir",
                                        "state_dir", "token"])
        # every one is a key the agent knows (agent/agent_config.c's option table)
        with open(os.path.join(ps.SRC, "agent", "agent_config.c")) as f:
            known = {n.replace("-", "_") for n in re.findall(r'O\("([a-z-]+)"', f.read())}
        self.assertEqual(keys - known, set())

    def test_uninstall_removes_task_and_files(self):
        body = [b for b in ps.blocks_after(self.code, r"function Uninstall-Agent")][0][2]
        self.assertIn("Remove-AgentTask", body)
        self.assertIn("$InstallDir", body)
        self.assertRegex(body, r"if \(\$PurgeData")
        remove = ps.blocks_after(self.code, r"function Remove-AgentTask")[0][2]
        self.assertIn("Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false", remove)

    def test_token_file_is_private(self):
        self.assertIn("SetAccessRuleProtection($true, $false)", self.raw)
        self.assertIn("'S-1-5-18', 'S-1-5-32-544'", self.raw)


if __name__ == "__main__":
    unittest.main(verbosity=2)
