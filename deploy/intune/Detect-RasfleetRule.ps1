<#
.SYNOPSIS
    Intune Proactive Remediation detection script: asks the rasfleet
    collector whether this device needs remediation for one rule.

.DESCRIPTION
    Calls the collector's remediation feed (api-v1):
        GET {Collector}/api/v1/remediation/{Rule}?device_id={DeviceId}
        Authorization: Bearer {Token}
    which answers {"device_id", "rule", "needs_remediation": bool, "detail": {...}}.

    Exit codes (the Intune / endpointmanager convention):
        1  needs_remediation is true: Intune runs the remediation script
        0  needs_remediation is false: compliant
        1  any error (network, 401/403/404, an answer without a boolean
           needs_remediation): a failed detection is never reported as
           compliant

    Prints one short line, e.g.
        rasfleet metric-order: needs remediation (ipv4 vpn 25 >= Ethernet 25)
    The text in parentheses is the first "reason" found in the answer's
    detail (docs/rules.md: every finding's evidence carries one).

    Intune runs detection scripts without arguments: set the defaults of
    Collector, Token and Rule below in the copy you upload (one copy per
    rule). Use a reader token: it can only read (api-v1).

.PARAMETER Collector
    Base URL of the collector, e.g. https://rasfleet.corp.example.net

.PARAMETER Token
    A rasfleet reader token.

.PARAMETER Rule
    Rule id from docs/rules.md, e.g. metric-order or pbk-metric.

.PARAMETER DeviceId
    The device id the agent reports. Default: MachineGuid from
    HKLM:\SOFTWARE\Microsoft\Cryptography.

.PARAMETER TimeoutSec
    HTTP timeout in seconds.

.EXAMPLE
    .\Detect-RasfleetRule.ps1 -Collector https://rasfleet.corp.example.net -Token $ReaderToken -Rule metric-order
#>

[CmdletBinding()]
param (
    [Parameter()]
    [string]$Collector = 'https://rasfleet.example.net',

    [Parameter()]
    [string]$Token = '',

    [Parameter()]
    [ValidatePattern('^[a-z0-9][a-z0-9-]*$')]
    [string]$Rule = 'metric-order',

    [Parameter()]
    [string]$DeviceId = '',

    [Parameter()]
    [ValidateRange(1, 300)]
    [int]$TimeoutSec = 30
)

$ErrorActionPreference = 'Stop'

# One line, at most Max characters.
function Format-OneLine {
    param (
        [string]$Text,
        [int]$Max = 160
    )
    $Line = ($Text -replace '\s+', ' ').Trim()
    if ($Line.Length -gt $Max) {
        $Line = $Line.Substring(0, $Max - 3) + '...'
    }
    return $Line
}

# The first non-empty string property named "reason" in the answer's
# detail, depth-first, or $null.
function Get-RasfleetReason {
    param (
        [object]$Node,
        [int]$Depth = 0
    )
    if ($null -eq $Node -or $Depth -gt 8) {
        return $null
    }
    if ($Node -is [System.Array]) {
        foreach ($Item in $Node) {
            $Found = Get-RasfleetReason -Node $Item -Depth ($Depth + 1)
            if ($Found) {
                return $Found
            }
        }
        return $null
    }
    if ($Node -isnot [System.Management.Automation.PSCustomObject]) {
        return $null
    }
    foreach ($Property in $Node.PSObject.Properties) {
        if ($Property.Name -eq 'reason' -and $Property.Value -is [string] -and $Property.Value) {
            return $Property.Value
        }
    }
    foreach ($Property in $Node.PSObject.Properties) {
        $Found = Get-RasfleetReason -Node $Property.Value -Depth ($Depth + 1)
        if ($Found) {
            return $Found
        }
    }
    return $null
}

try {
    if ([string]::IsNullOrWhiteSpace($Token)) {
        throw 'no token configured'
    }
    if ([string]::IsNullOrWhiteSpace($DeviceId)) {
        $DeviceId = (Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Cryptography' -Name 'MachineGuid').MachineGuid
    }
    if ([string]::IsNullOrWhiteSpace($DeviceId)) {
        throw 'no device id (MachineGuid is empty)'
    }

    # Windows PowerShell 5.1 may not offer TLS 1.2 by default.
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

    $Uri = '{0}/api/v1/remediation/{1}?device_id={2}' -f $Collector.TrimEnd('/'), [uri]::EscapeDataString($Rule), [uri]::EscapeDataString($DeviceId)
    $Headers = @{
        Authorization = 'Bearer ' + $Token
        Accept        = 'application/json'
    }
    $Answer = Invoke-RestMethod -Method Get -Uri $Uri -Headers $Headers -TimeoutSec $TimeoutSec -UseBasicParsing

    $NeedsRemediation = $Answer.needs_remediation
    if ($NeedsRemediation -isnot [bool]) {
        throw 'the answer has no boolean needs_remediation'
    }

    if ($NeedsRemediation -eq $true) {
        $Reason = Get-RasfleetReason -Node $Answer.detail
        if ($Reason) {
            Write-Output ('rasfleet {0}: needs remediation ({1})' -f $Rule, (Format-OneLine -Text $Reason))
        }
        else {
            Write-Output ('rasfleet {0}: needs remediation' -f $Rule)
        }
        exit 1
    }

    Write-Output ('rasfleet {0}: compliant' -f $Rule)
    exit 0
}
catch {
    Write-Output ('rasfleet {0}: detection failed ({1})' -f $Rule, (Format-OneLine -Text $_.Exception.Message))
    exit 1
}
