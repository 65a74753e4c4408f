<#
.SYNOPSIS
Installs (or removes) the rasfleet agent on a Windows VPN client.

.DESCRIPTION
Copies rasfleet-agent.exe to -InstallDir, writes its config file
(<DataDir>\agent.conf, readable by SYSTEM and Administrators only, since it
holds the agent token), and registers the scheduled task "rasfleet-agent"
that runs "rasfleet-agent.exe --once --config <DataDir>\agent.conf" as
SYSTEM at startup and every -IntervalMinutes minutes. Without -SourceDir the
agent reads the machine itself (--native: the RasClient events of the
Application log, the interfaces, every rasphone.pbk); with it, it reads the
exports found in that folder. -CaFile imports the collector's CA
certificate into LocalMachine\Root (WinHTTP verifies TLS against the
Windows certificate store).

-Uninstall removes the task and the program folder; -PurgeData also deletes
<DataDir> (spool, progress, config). Run elevated. Exit code 0 on success,
1 on any failure (the reason is written to the error stream).

.EXAMPLE
.\Install-RasfleetAgent.ps1 -CollectorUrl https://rasfleet.corp.example.net -Token $t
.EXAMPLE
.\Install-RasfleetAgent.ps1 -Uninstall -PurgeData
#>
[CmdletBinding()]
param(
    [string]$CollectorUrl,
    [string]$Token,
    [string]$AgentPath = (Join-Path $PSScriptRoot 'rasfleet-agent.exe'),
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'rasfleet'),
    [string]$DataDir = (Join-Path $env:ProgramData 'rasfleet'),
    [string]$SourceDir,
    [string]$DeviceId,
    [string]$CaFile,
    [ValidateRange(1, 1440)]
    [int]$IntervalMinutes = 15,
    [switch]$Uninstall,
    [switch]$PurgeData
)

$ErrorActionPreference = 'Stop'
$TaskName = 'rasfleet-agent'

function Assert-Elevated {
    $id = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($id)
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'run this script from an elevated PowerShell (as Administrator)'
    }
}

function Remove-AgentTask {
    $task = Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
    if ($task) {
        Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
        Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
    }
}

function Set-PrivateAcl([string]$Path) {
    # SYSTEM and Administrators only: the config holds the agent token
    $acl = New-Object System.Security.AccessControl.DirectorySecurity
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        $acl = New-Object System.Security.AccessControl.FileSecurity
    }
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {
        $who = New-Object System.Security.Principal.SecurityIdentifier($sid)
        $inherit = 'None'
        if ($acl -is [System.Security.AccessControl.DirectorySecurity]) {
            $inherit = 'ContainerInherit, ObjectInherit'
        }
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($who, 'FullControl', $inherit, 'None', 'Allow')
        $acl.AddAccessRule($rule)
    }
    Set-Acl -LiteralPath $Path -AclObject $acl
}

function Write-AgentConfig([string]$Path) {
    $stateDir = Join-Path $DataDir 'agent'
    $lines = @(
        '# rasfleet agent settings, written by Install-RasfleetAgent.ps1',
        "collector = $CollectorUrl",
        "token = $Token",
        "state_dir = $stateDir"
    )
    if ($SourceDir) {
        $lines += "source_dir = $SourceDir"
    } else {
        $lines += 'native = true'
    }
    if ($DeviceId) {
        $lines += "device_id = $DeviceId"
    }
    # ASCII, no BOM: one key = value per line
    [System.IO.File]::WriteAllLines($Path, [string[]]$lines, (New-Object System.Text.ASCIIEncoding))
    Set-PrivateAcl $Path
}

function Install-Agent {
    if (-not $CollectorUrl -or $CollectorUrl -notmatch '^https?://') {
        throw '-CollectorUrl http(s)://host:port is required'
    }
    if (-not $Token) {
        throw '-Token is required (an agent token: rasfleet-collector token add --role agent)'
    }
    if (-not (Test-Path -LiteralPath $AgentPath -PathType Leaf)) {
        throw "agent executable not found: $AgentPath"
    }
    if ($CaFile) {
        Import-Certificate -FilePath $CaFile -CertStoreLocation 'Cert:\LocalMachine\Root' | Out-Null
    }
    New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
    New-Item -ItemType Directory -Force -Path $DataDir | Out-Null
    Set-PrivateAcl $DataDir
    $exe = Join-Path $InstallDir 'rasfleet-agent.exe'
    Remove-AgentTask
    Copy-Item -LiteralPath $AgentPath -Destination $exe -Force
    $conf = Join-Path $DataDir 'agent.conf'
    Write-AgentConfig $conf

    $action = New-ScheduledTaskAction -Execute $exe -Argument "--once --config `"$conf`"" -WorkingDirectory $InstallDir
    $every = New-ScheduledTaskTrigger -Once -At (Get-Date).AddMinutes(1) -RepetitionInterval (New-TimeSpan -Minutes $IntervalMinutes)
    $boot = New-ScheduledTaskTrigger -AtStartup
    $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    $settings = New-ScheduledTaskSettingsSet -MultipleInstances IgnoreNew -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -ExecutionTimeLimit (New-TimeSpan -Minutes 30)
    Register-ScheduledTask -TaskName $TaskName -Description 'rasfleet: ships VPN telemetry to the collector' -Action $action -Trigger @($every, $boot) -Principal $principal -Settings $settings | Out-Null
    Write-Output "rasfleet-agent installed in $InstallDir; task '$TaskName' runs every $IntervalMinutes min as SYSTEM; config $conf"
}

function Uninstall-Agent {
    Remove-AgentTask
    if (Test-Path -LiteralPath $InstallDir) {
        Remove-Item -LiteralPath $InstallDir -Recurse -Force
    }
    if ($PurgeData -and (Test-Path -LiteralPath $DataDir)) {
        Remove-Item -LiteralPath $DataDir -Recurse -Force
    }
    Write-Output "rasfleet-agent removed$(if ($PurgeData) { ' with its data' } else { " (data kept in $DataDir)" })"
}

try {
    Assert-Elevated
    if ($Uninstall) {
        Uninstall-Agent
    } else {
        Install-Agent
    }
    exit 0
} catch {
    Write-Error "Install-RasfleetAgent: $($_.Exception.Message)" -ErrorAction Continue
    exit 1
}
