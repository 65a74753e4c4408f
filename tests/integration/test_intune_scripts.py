"""Static checks of the Intune scripts in deploy/intune (Debian has no
PowerShell to run them): the exit-code contract of an Intune Proactive
Remediation pair (detection exits 1 when remediation is needed and 0 when
compliant, any exception exits 1; the remediation exits 0 on success and 1
on failure), the shape of the param blocks, what the scripts must and must
not do, and balanced brackets. A small tokenizer blanks out strings
('...', "...", here-strings) and comments (# ..., <# ... #>) first, so
brackets and keywords inside them do not count.

Standard library only; runs without a build: python3 tests/integration/test_intune_scripts.py
"""
import os
import re
import unittest

SRC = os.environ.get("RF_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
INTUNE = os.path.join(SRC, "deploy", "intune")
DETECT = os.path.join(INTUNE, "Detect-RasfleetRule.ps1")
REMEDIATE = os.path.join(INTUNE, "Remediate-InterfaceMetric.ps1")

OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = {v: k for k, v in OPEN.items()}


class TokenizeError(Exception):
    pass


def _skip_double_quoted(src, i):
    """i is just after an opening double quote; returns the index after the
    closing one. Handles `x escapes, "" and $( ... ) subexpressions (which may
    contain strings of their own)."""
    n = len(src)
    while i < n:
        c = src[i]
        if c == "`":
            i += 2
        elif c == '"':
            if i + 1 < n and src[i + 1] == '"':
                i += 2
            else:
                return i + 1
        elif src.startswith("$(", i):
            i = _scan_code(src, i + 2, ")")
        else:
            i += 1
    raise TokenizeError("unterminated double-quoted string")


def _skip_single_quoted(src, i):
    n = len(src)
    while i < n:
        if src[i] == "'":
            if i + 1 < n and src[i + 1] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    raise TokenizeError("unterminated single-quoted string")


def _skip_here_string(src, i, quote):
    """i is at '@' of @" or @' followed by a line end; returns the index after
    the closing "@ or '@, which must start a line."""
    m = re.compile(r"\r?\n" + re.escape(quote) + "@").search(src, i + 2)
    if not m:
        raise TokenizeError("unterminated here-string")
    return m.end()


def _skip_string_or_comment(src, i):
    """Returns the end of the string or comment starting at i, or None when
    none starts there."""
    if src.startswith("<#", i):
        j = src.find("#>", i + 2)
        if j < 0:
            raise TokenizeError("unterminated block comment")
        return j + 2
    c = src[i]
    if c == "#":
        j = src.find("\n", i)
        return len(src) if j < 0 else j
    if c == "@" and i + 2 < len(src) and src[i + 1] in "\"'" and src[i + 2] in "\r\n":
        return _skip_here_string(src, i, src[i + 1])
    if c == "'":
        return _skip_single_quoted(src, i + 1)
    if c == '"':
        return _skip_double_quoted(src, i + 1)
    return None


def _scan_code(src, i, terminator):
    """Scans code from i until terminator at bracket depth 0 (inside a $( )
    subexpression); returns the index after it."""
    depth = 0
    n = len(src)
    while i < n:
        end = _skip_string_or_comment(src, i)
        if end is not None:
            i = end
            continue
        c = src[i]
        if c == "`":
            i += 2
            continue
        if c in OPEN:
            depth += 1
        elif c in CLOSE:
            if depth == 0 and c == terminator:
                return i + 1
            depth -= 1
        i += 1
    raise TokenizeError("unterminated subexpression")


def code_only(src):
    """src with every string and comment replaced by spaces (line ends kept),
    so offsets and line numbers stay the same. Backtick escapes outside
    strings are blanked too."""
    out = []
    i = 0
    n = len(src)
    while i < n:
        end = _skip_string_or_comment(src, i)
        if end is not None:
            out.append(re.sub(r"[^\r\n]", " ", src[i:end]))
            i = end
            continue
        if src[i] == "`":
            out.append(re.sub(r"[^\r\n]", " ", src[i:i + 2]))
            i += 2
            continue
        out.append(src[i])
        i += 1
    return "".join(out)


def bracket_problems(code):
    """Problems with (), [] and {} in code (strings/comments already blanked):
    a list of 'line N: ...' messages, empty when balanced."""
    stack = []
    problems = []
    for i, c in enumerate(code):
        if c in OPEN:
            stack.append((c, i))
        elif c in CLOSE:
            line = code.count("\n", 0, i) + 1
            if not stack:
                problems.append("line %d: unmatched %r" % (line, c))
            elif stack[-1][0] != CLOSE[c]:
                problems.append("line %d: %r closes %r" % (line, c, stack[-1][0]))
                stack.pop()
            else:
                stack.pop()
    for c, i in stack:
        problems.append("line %d: %r never closed" % (code.count("\n", 0, i) + 1, c))
    return problems


def matching(code, i):
    """Index of the bracket closing the one at code[i]."""
    depth = 0
    for j in range(i, len(code)):
        if code[j] in OPEN:
            depth += 1
        elif code[j] in CLOSE:
            depth -= 1
            if depth == 0:
                return j
    raise AssertionError("bracket at %d never closed" % i)


def blocks_after(code, pattern):
    """(start, end, body) of each { } block that follows a match of pattern
    (pattern must end just before the '{', whitespace allowed)."""
    found = []
    for m in re.finditer(pattern + r"\s*\{", code, re.I):
        start = m.end() - 1
        end = matching(code, start)
        found.append((start, end, code[start + 1:end]))
    return found


def if_blocks(code):
    """(condition, start, end, body) of every if statement's block."""
    found = []
    for m in re.finditer(r"\bif\s*\(", code, re.I):
        cstart = m.end() - 1
        cend = matching(code, cstart)
        rest = code[cend + 1:]
        b = re.match(r"\s*\{", rest)
        if not b:
            continue
        start = cend + 1 + b.end() - 1
        end = matching(code, start)
        found.append((code[cstart + 1:cend], start, end, code[start + 1:end]))
    return found


EXIT_1 = re.compile(r"\bexit\s+1\b", re.I)
EXIT_0 = re.compile(r"\bexit\s+0\b", re.I)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    return data


class TokenizerTest(unittest.TestCase):
    def test_strings_and_comments_ignored(self):
        ok = [
            'Write-Output "{ not a block"',
            "Write-Output '} not a block either'",
            "$a = 'it''s ( fine'",
            '$b = "say ""{"" and `" ) "',
            "# { comment\n$c = 1",
            "<# block { comment ( #>\n$d = @(1, 2)",
            "$e = @'\n{ here ( string\n'@\n$f = 1",
            '$g = @"\n} here $(Get-Date) string\n"@',
            '$h = "$(if ($x) { "nested {" })"',
            "$i = `{",
        ]
        for s in ok:
            self.assertEqual(bracket_problems(code_only(s)), [], s)
        self.assertEqual(len(code_only(ok[4])), len(ok[4]))

    def test_unbalanced_detected(self):
        bad = [
            "if ($a) { Write-Output 1",
            "function f { param([int]$a) }}",
            "$x = @(1, 2]",
            "foreach ($i in $l) { '}' ",
        ]
        for s in bad:
            self.assertNotEqual(bracket_problems(code_only(s)), [], s)

    def test_unterminated_string_raises(self):
        with self.assertRaises(TokenizeError):
            code_only("Write-Output 'no end")
        with self.assertRaises(TokenizeError):
            code_only("<# no end")


class ScriptContract:
    """Checks shared by both scripts; subclasses set PATH."""
    PATH = None

    @classmethod
    def setUpClass(cls):
        cls.raw_bytes = read(cls.PATH)
        cls.raw = cls.raw_bytes.decode("ascii")
        cls.code = code_only(cls.raw)

    def test_ascii_only(self):
        # Windows PowerShell 5.1 reads a BOM-less script in the ANSI code page
        self.raw_bytes.decode("ascii")

    def test_brackets_balanced(self):
        self.assertEqual(bracket_problems(self.code), [])

    def test_cmdletbinding_param_block_first(self):
        self.assertRegex(self.code, r"^\s*\[CmdletBinding\(\)\]\s*param\s*\(")

    def test_exit_codes_only_0_and_1(self):
        codes = re.findall(r"\bexit\b\s*([^\s;}]*)", self.code, re.I)
        self.assertTrue(codes)
        self.assertEqual(set(codes) - {"0", "1"}, set(), codes)

    def test_errors_stop_and_catch_exits_1(self):
        self.assertRegex(self.raw, r"\$ErrorActionPreference\s*=\s*'Stop'")
        tries = blocks_after(self.code, r"\btry")
        catches = blocks_after(self.code, r"\bcatch")
        self.assertTrue(tries)
        # the outermost try/catch (the script body) exits 1 from its catch
        last_catch = catches[-1]
        self.assertRegex(last_catch[2], EXIT_1)
        self.assertNotRegex(last_catch[2], EXIT_0)
        self.assertLess(tries[-1][1], last_catch[0])
        self.assertEqual(self.code[last_catch[1] + 1:].strip(), "", "code after the final catch")

    def test_no_set_netipinterface(self):
        # the metric is set in the phonebook, which persists; a live change is lost at reconnect
        self.assertNotIn("set-netipinterface", self.raw.lower())

    def param_block(self):
        m = re.search(r"\bparam\s*\(", self.code, re.I)
        start = m.end() - 1
        return self.code[start:matching(self.code, start) + 1]


class DetectScriptTest(ScriptContract, unittest.TestCase):
    PATH = DETECT

    def test_parameters(self):
        params = self.param_block()
        for name in ("Collector", "Token", "Rule", "DeviceId"):
            self.assertRegex(params, r"\[string\]\$%s\b" % name)

    def test_calls_the_remediation_feed(self):
        self.assertIn("/api/v1/remediation/", self.raw)
        self.assertIn("?device_id=", self.raw)
        self.assertRegex(self.raw, r"'Bearer '\s*\+\s*\$Token|\"Bearer \$Token\"")
        self.assertRegex(self.code, r"Invoke-RestMethod\b")
        self.assertIn("EscapeDataString($DeviceId)", self.code)

    def test_device_id_from_machine_guid(self):
        self.assertIn("HKLM:\\SOFTWARE\\Microsoft\\Cryptography", self.raw)
        self.assertIn("MachineGuid", self.raw)

    def test_needs_remediation_exits_1_compliant_exits_0(self):
        self.assertIn("needs_remediation", self.code)
        try_start, try_end, try_body = blocks_after(self.code, r"\btry")[-1]
        hits = [b for b in if_blocks(self.code)
                if re.search(r"needs_?remediation", b[0], re.I)
                and not re.search(r"-isnot|-not\b|-eq\s+\$false", b[0], re.I)]
        self.assertEqual(len(hits), 1, hits)
        cond, start, end, body = hits[0]
        self.assertTrue(try_start < start < try_end)
        self.assertRegex(body, EXIT_1)
        self.assertNotRegex(body, EXIT_0)
        # the compliant path: after that block, still inside the try
        self.assertRegex(self.code[end + 1:try_end], EXIT_0)
        self.assertNotRegex(self.code[end + 1:try_end], EXIT_1)

    def test_one_line_messages(self):
        self.assertIn("needs remediation ({1})", self.raw)
        self.assertIn("'rasfleet {0}: compliant'", self.raw)
        self.assertIn("'rasfleet {0}: detection failed ({1})'", self.raw)


class RemediateScriptTest(ScriptContract, unittest.TestCase):
    PATH = REMEDIATE

    def test_parameters(self):
        params = self.param_block()
        self.assertRegex(params, r"\[string\[\]\]\$ConnectionName\b")
        self.assertRegex(params, r"\[int\]\$UserTunnelMetric\s*=\s*3\b")
        self.assertRegex(params, r"\[int\]\$DeviceTunnelMetric\s*=\s*4\b")

    def test_success_exits_0_failure_exits_1(self):
        try_start, try_end, try_body = blocks_after(self.code, r"\btry")[-1]
        self.assertRegex(try_body, EXIT_0)
        # the try body ends with the success exit
        self.assertRegex(try_body.rstrip(), r"exit\s+0$")

    def test_both_phonebooks(self):
        self.assertIn("$env:ProgramData", self.code)
        self.assertIn("GetFolderPath('ApplicationData')", self.raw)
        self.assertIn("Microsoft\\Network\\Connections\\Pbk\\rasphone.pbk", self.raw)

    def test_backup_before_write(self):
        backup = self.code.find("Copy-Item")
        write = self.code.find("WriteAllText")
        self.assertGreater(backup, 0)
        self.assertGreater(write, backup)
        self.assertIn(".bak", self.raw)

    def test_per_section_edit_not_global_replace(self):
        # no -replace over the whole text for the metric keys (the EPM scripts'
        # approach, which changes every profile of the file)
        self.assertNotRegex(self.raw, r"(?i)-replace\s*'[^']*InterfaceMetric")
        self.assertIn("-cnotcontains $Section.Name", self.code)
        self.assertIn("'^\\[(.+)\\]\\s*$'", self.raw)
        self.assertIn("DeviceTunnel", self.raw)

    def test_keeps_encoding(self):
        for needle in ("GetPreamble()", "UnicodeEncoding", "UTF8Encoding", "ReadAllBytes"):
            self.assertIn(needle, self.code)


class ReadmeTest(unittest.TestCase):
    def test_readme_explains_registration(self):
        with open(os.path.join(INTUNE, "README.md"), encoding="utf-8") as f:
            text = f.read()
        for needle in ("Detect-RasfleetRule.ps1", "Remediate-InterfaceMetric.ps1",
                       "reader token", "metric-order", "pbk-metric", "exit 1"):
            self.assertIn(needle, text)


if __name__ == "__main__":
    unittest.main()
