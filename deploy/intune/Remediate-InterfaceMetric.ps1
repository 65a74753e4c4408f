<#
.SYNOPSIS
    Intune Proactive Remediation script for the rasfleet rules metric-order
    and pbk-metric: pins IpInterfaceMetric and Ipv6InterfaceMetric of the
    named VPN profiles in rasphone.pbk.

.DESCRIPTION
    For each phonebook (all users: %ProgramData%, current user: %APPDATA%,
    under Microsoft\Network\Connections\Pbk\rasphone.pbk):
      - reads it and keeps its encoding (UTF-16 LE/BE or UTF-8 with a BOM,
        UTF-8/ASCII without one, else the ANSI code page) and line endings;
      - edits only the sections whose name is in ConnectionName (exact,
        case-sensitive, as Windows compares them), and in them only the
        top-level keys (not the NETCOMPONENTS=/MEDIA=/DEVICE= sub-blocks):
        IpInterfaceMetric and Ipv6InterfaceMetric are set to
        DeviceTunnelMetric when the section has DeviceTunnel=1, else to
        UserTunnelMetric; a missing key is added after the section's last
        top-level key;
      - when something changes, copies the file to rasphone_<time>.bak next
        to it first, then writes a temporary file and swaps it in.
    Other sections, and every other line, stay byte for byte.

    The interface metric is set in the phonebook because that is what
    persists: the VPN interface is set up again from the phonebook at every
    connect. The new metric applies at the next connect.

    Exit codes: 0 success (including nothing to change, or no phonebook
    file at all); 1 failure (an error, or none of the named sections exists
    in any phonebook read).

    Intune runs remediation scripts without arguments: set the defaults
    below (ConnectionName above all) in the copy you upload.

.PARAMETER ConnectionName
    Section name(s) to edit: the VPN profile names.

.PARAMETER UserTunnelMetric
    Metric for user tunnel sections (default 3).

.PARAMETER DeviceTunnelMetric
    Metric for sections with DeviceTunnel=1 (default 4).

.PARAMETER Scope
    All (default), AllUsers (ProgramData only) or User (AppData only).

.PARAMETER RasphonePath
    Explicit phonebook path(s) instead of the default locations.

.EXAMPLE
    .\Remediate-InterfaceMetric.ps1 -ConnectionName 'Always On VPN', 'Always On VPN Device Tunnel'
#>

[CmdletBinding()]
param (
    [Parameter()]
    [string[]]$ConnectionName = @('Always On VPN', 'Always On VPN Device Tunnel'),

    [Parameter()]
    [ValidateRange(1, 9999)]
    [int]$UserTunnelMetric = 3,

    [Parameter()]
    [ValidateRange(1, 9999)]
    [int]$DeviceTunnelMetric = 4,

    [Parameter()]
    [ValidateSet('All', 'AllUsers', 'User')]
    [string]$Scope = 'All',

    [Parameter()]
    [string[]]$RasphonePath = @()
)

$ErrorActionPreference = 'Stop'

# The encoding of a phonebook, from its first bytes.
function Get-PbkEncoding {
    param (
        [byte[]]$Bytes
    )
    if ($Bytes.Length -ge 3 -and $Bytes[0] -eq 0xEF -and $Bytes[1] -eq 0xBB -and $Bytes[2] -eq 0xBF) {
        return New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $true
    }
    if ($Bytes.Length -ge 2 -and $Bytes[0] -eq 0xFF -and $Bytes[1] -eq 0xFE) {
        return New-Object -TypeName System.Text.UnicodeEncoding -ArgumentList $false, $true
    }
    if ($Bytes.Length -ge 2 -and $Bytes[0] -eq 0xFE -and $Bytes[1] -eq 0xFF) {
        return New-Object -TypeName System.Text.UnicodeEncoding -ArgumentList $true, $true
    }
    $Strict = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false, $true
    $IsUtf8 = $true
    try {
        [void]$Strict.GetString($Bytes)
    }
    catch {
        $IsUtf8 = $false
    }
    if ($IsUtf8) {
        return New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    }
    return [System.Text.Encoding]::GetEncoding([System.Globalization.CultureInfo]::CurrentCulture.TextInfo.ANSICodePage)
}

# The sections of a phonebook: name, header line, last top-level key line,
# DeviceTunnel=1, and the lines of the two metric keys (-1 when absent).
function Get-PbkSection {
    param (
        [System.Collections.Generic.List[string]]$Lines
    )
    $Sections = New-Object -TypeName System.Collections.Generic.List[object]
    $Current = $null
    for ($i = 0; $i -lt $Lines.Count; $i++) {
        $Line = $Lines[$i]
        if ($Line -match '^\[(.+)\]\s*$') {
            $Current = [pscustomobject]@{
                Name         = $Matches[1]
                Header       = $i
                LastKey      = $i
                InSubBlock   = $false
                DeviceTunnel = $false
                V4           = -1
                V6           = -1
            }
            $Sections.Add($Current)
            continue
        }
        if ($null -eq $Current -or $Current.InSubBlock) {
            continue
        }
        if ($Line -cmatch '^(NETCOMPONENTS|MEDIA|DEVICE)=') {
            $Current.InSubBlock = $true
            continue
        }
        if ($Line -match '^\s*$' -or $Line.StartsWith(';')) {
            continue
        }
        if ($Line -match '^([^=]+)=(.*)$') {
            $Key = $Matches[1].Trim()
            $Value = $Matches[2].Trim()
            $Current.LastKey = $i
            if ($Key -eq 'IpInterfaceMetric' -and $Current.V4 -lt 0) {
                $Current.V4 = $i
            }
            elseif ($Key -eq 'Ipv6InterfaceMetric' -and $Current.V6 -lt 0) {
                $Current.V6 = $i
            }
            elseif ($Key -eq 'DeviceTunnel' -and $Value -eq '1') {
                $Current.DeviceTunnel = $true
            }
        }
    }
    return $Sections
}

# Edits one phonebook; returns the descriptions of what changed and adds the
# section names it found to $Found.
function Update-PbkMetric {
    param (
        [string]$Path,
        [System.Collections.Generic.List[string]]$Found
    )
    $Changes = New-Object -TypeName System.Collections.Generic.List[string]
    $Bytes = [System.IO.File]::ReadAllBytes($Path)
    $Encoding = Get-PbkEncoding -Bytes $Bytes
    $Skip = $Encoding.GetPreamble().Length
    $Text = $Encoding.GetString($Bytes, $Skip, $Bytes.Length - $Skip)
    $Newline = "`n"
    if ($Text.Contains("`r`n")) {
        $Newline = "`r`n"
    }
    $Lines = New-Object -TypeName System.Collections.Generic.List[string]
    $Lines.AddRange([string[]]($Text -split '\r?\n'))

    # Last section first, so inserted lines never move a section still to edit.
    $Sections = @(Get-PbkSection -Lines $Lines | Sort-Object -Property Header -Descending)
    foreach ($Section in $Sections) {
        if ($ConnectionName -cnotcontains $Section.Name) {
            continue
        }
        $Found.Add($Section.Name)
        $Metric = $UserTunnelMetric
        if ($Section.DeviceTunnel) {
            $Metric = $DeviceTunnelMetric
        }
        foreach ($Key in @('Ipv6InterfaceMetric', 'IpInterfaceMetric')) {
            $Index = $Section.V6
            if ($Key -eq 'IpInterfaceMetric') {
                $Index = $Section.V4
            }
            $Wanted = '{0}={1}' -f $Key, $Metric
            if ($Index -ge 0) {
                if ($Lines[$Index] -cne $Wanted) {
                    $Changes.Add(('[{0}] {1} -> {2}' -f $Section.Name, $Lines[$Index], $Metric))
                    $Lines[$Index] = $Wanted
                }
            }
            else {
                $Lines.Insert($Section.LastKey + 1, $Wanted)
                $Changes.Add(('[{0}] {1} added' -f $Section.Name, $Wanted))
            }
        }
    }
    if ($Changes.Count -eq 0) {
        return $Changes
    }

    $Directory = Split-Path -Path $Path -Parent
    $Backup = Join-Path -Path $Directory -ChildPath ('rasphone_{0}.bak' -f (Get-Date -Format 'FileDateTime'))
    Copy-Item -Path $Path -Destination $Backup -Force
    $Temp = $Path + '.rasfleet.tmp'
    try {
        [System.IO.File]::WriteAllText($Temp, [string]::Join($Newline, $Lines.ToArray()), $Encoding)
        [System.IO.File]::Replace($Temp, $Path, [NullString]::Value)
    }
    finally {
        if (Test-Path -LiteralPath $Temp) {
            Remove-Item -LiteralPath $Temp -Force -ErrorAction SilentlyContinue
        }
    }
    return $Changes
}

try {
    $Paths = @($RasphonePath)
    if ($Paths.Count -eq 0) {
        $Relative = 'Microsoft\Network\Connections\Pbk\rasphone.pbk'
        if ($Scope -eq 'All' -or $Scope -eq 'AllUsers') {
            $Paths += Join-Path -Path $env:ProgramData -ChildPath $Relative
        }
        if ($Scope -eq 'All' -or $Scope -eq 'User') {
            $Paths += Join-Path -Path ([Environment]::GetFolderPath('ApplicationData')) -ChildPath $Relative
        }
    }

    $Found = New-Object -TypeName System.Collections.Generic.List[string]
    $Summary = New-Object -TypeName System.Collections.Generic.List[string]
    $Read = 0
    foreach ($Path in $Paths) {
        if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
            continue
        }
        $Read++
        $Changes = Update-PbkMetric -Path $Path -Found $Found
        foreach ($Change in $Changes) {
            $Summary.Add(('{0} {1}' -f $Path, $Change))
        }
    }

    if ($Read -eq 0) {
        Write-Output 'rasfleet remediation: no rasphone.pbk found, nothing to do'
        exit 0
    }
    if ($Found.Count -eq 0) {
        Write-Output ('rasfleet remediation: failed, no section named {0} in {1}' -f ($ConnectionName -join ' / '), ($Paths -join ', '))
        exit 1
    }
    if ($Summary.Count -eq 0) {
        Write-Output ('rasfleet remediation: metrics already set in {0}' -f (($Found | Sort-Object -Unique) -join ', '))
        exit 0
    }
    Write-Output ('rasfleet remediation: {0}; reconnect to apply' -f ($Summary -join '; '))
    exit 0
}
catch {
    Write-Output ('rasfleet remediation: failed ({0})' -f $_.Exception.Message)
    exit 1
}
