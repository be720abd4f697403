# Shared by the *.Tests.ps1 files: dot-source in BeforeAll, then call Initialize-VirtShellTest.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:HelloDefinition = Join-Path $RepoRoot 'machine-defs/hello-emulated.js'
$script:HelloImage = Join-Path $RepoRoot 'machine-defs/guests/hello.bin'

function Get-VirtShellModulePath {
    if ($env:VIRTSHELL_MODULE_PATH) { $env:VIRTSHELL_MODULE_PATH } else { Join-Path $RepoRoot 'out/VirtShell' }
}

# Imports the module and points $env:VIRTSHELL_HOME at a fresh folder for this test file.
function Initialize-VirtShellTest {
    Import-Module (Get-VirtShellModulePath) -ErrorAction Stop
    $script:PreviousHome = $env:VIRTSHELL_HOME
    # Not in TestDrive: Pester may delete that before AfterAll has turned the machines off.
    $env:VIRTSHELL_HOME = Join-Path ([IO.Path]::GetTempPath()) "virtshell-pester-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $env:VIRTSHELL_HOME | Out-Null
}

# Turns off what this file left running (their host processes end with them), deletes its home and gives the
# previous $env:VIRTSHELL_HOME back.
function Complete-VirtShellTest {
    Get-VirtMachine | Stop-VirtMachine -TurnOff -Timeout 10
    # A spare host may be writing in the home while it warms up.
    Get-SpareHost | ForEach-Object { Stop-Process -Id $_ -Force -ErrorAction Ignore; Wait-ProcessEnd $_ | Out-Null }
    Remove-Item -LiteralPath $env:VIRTSHELL_HOME -Recurse -Force
    $env:VIRTSHELL_HOME = $script:PreviousHome
}

# The pids of this home's host processes (virtshell-host HOME ...); with -Spare, those started as spares.
function Get-HostProcess([switch] $Spare) {
    $pattern = "virtshell-host.$([regex]::Escape($env:VIRTSHELL_HOME))\x00" + ($Spare ? '--spare' : '')
    foreach ($process in Get-ChildItem /proc -Directory | Where-Object Name -match '^\d+$') {
        if ((Get-Content "/proc/$($process.Name)/cmdline" -Raw -ErrorAction Ignore) -match $pattern) { [int]$process.Name }
    }
}

# The pids of this home's spare hosts: those started as spares (virtshell-host HOME --spare) that no machine has
# taken yet, and a host that waits as the spare after its run (it holds run/spare.lock).
function Get-SpareHost {
    $taken = @(Get-VirtMachine | ForEach-Object OwnerProcessId)
    $spares = Get-HostProcess -Spare | Where-Object { $_ -notin $taken }
    $lock = Join-Path $env:VIRTSHELL_HOME 'run/spare.lock'
    $inode = if (Test-Path $lock) { & stat -c %i $lock }
    $holders = foreach ($line in Get-Content /proc/locks) {
        $fields = $line.Trim() -split '\s+'
        if ($inode -and $fields[1] -eq 'FLOCK' -and $fields[5] -match ":$inode$") { [int]$fields[4] }
    }
    @($spares) + @($holders) | Where-Object { $_ } | Sort-Object -Unique
}

# A PowerShell of its own (another runspace, this process) with the module imported, to run a command and stop it.
function New-VirtShellRunspacePowerShell {
    $state = [initialsessionstate]::CreateDefault2()
    $state.ImportPSModule((Get-VirtShellModulePath))
    [powershell]::Create($state)
}

# Why machines of hello-emulated.js cannot run here, or $null when they can.
function Get-HelloSkipReason {
    $model = Get-VirtModel -Name emulated
    if (-not $model.Available) { return "model 'emulated' is not available here: $($model.Reason)" }
    if (-not (Test-Path $HelloImage)) { return "$HelloImage is not built (run ./build.ps1 -Task Build)" }
    $null
}

# A machine's console.log as text, or '' before it has one.
function Get-ConsoleText([string] $Name) {
    $log = Join-Path $env:VIRTSHELL_HOME "machines/$Name/console.log"
    if (Test-Path $log) { [IO.File]::ReadAllText($log) } else { '' }
}

# The entries of the machines folder, hidden ones (a staging folder left behind) included.
function Get-MachineFolderEntries {
    @(Get-ChildItem -Force (Join-Path $env:VIRTSHELL_HOME 'machines') -ErrorAction SilentlyContinue | ForEach-Object Name)
}

# Writes a definition like hello-emulated.js into TestDrive, with parts replaced; returns its path.
function New-TestDefinition {
    param(
        [Parameter(Mandatory)] [string] $FileName,
        [string] $Imports = 'machine, uart16550, debugExit',
        [string] $Devices = "uart16550({ port: 0x3f8, irq: 4, console: true }),`n    debugExit({ port: 0xf4 }),",
        [string] $Image = $HelloImage,
        [string] $Hooks = '',
        # Replaces the whole text (for syntax errors)
        [string] $Text
    )
    if (-not $Text) {
        $Text = @"
import { $Imports } from 'virtshell';

export default machine({
  name: 'probe',
  model: 'emulated',
  memory: '1M',
  devices: [
    $Devices
  ],
  boot: { image: '$($Image -replace '\\', '/')', load: 0x7c00, mode: 'real' },
  hooks: { $Hooks },
});
"@
    }
    $path = Join-Path $TestDrive $FileName
    Set-Content -LiteralPath $path -Value $Text -NoNewline
    $path
}

# The command line of a child pwsh (same $env:VIRTSHELL_HOME) that imports the module and runs $Script.
function Get-ChildPwshCommand([Parameter(Mandatory)] [string] $Script) {
    $exe = (Get-Process -Id $PID).Path
    $arguments = @()
    # pwsh as a dotnet tool runs as 'dotnet pwsh.dll'
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { $arguments += Join-Path $PSHOME 'pwsh.dll' }
    $prologue = "`$ErrorActionPreference = 'Stop'; Import-Module '$(Get-VirtShellModulePath)'`n"
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($prologue + $Script))
    [pscustomobject]@{ Exe = $exe; Arguments = $arguments + @('-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded) }
}

# Whether a process runs: a zombie (ended, not reaped yet by its parent, which for an orphaned host process may be
# a pwsh that made itself a subreaper for containers) does not.
function Test-ProcessRunning([int] $ProcessId) {
    $stat = Get-Content "/proc/$ProcessId/stat" -ErrorAction Ignore
    [bool]$stat -and ($stat -replace '^\d+ \(.*\) ', '')[0] -ne 'Z'
}

# Waits until a process no longer runs; $false if it still does after $Seconds.
function Wait-ProcessEnd([int] $ProcessId, [int] $Seconds = 20) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ((Test-ProcessRunning $ProcessId) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    -not (Test-ProcessRunning $ProcessId)
}

# Whether a machine's host process let its machine go once the run ended: it ended, or it waits as the store's spare.
function Wait-HostReleased([int] $ProcessId, [int] $Seconds = 20) {
    $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
    while ((Test-ProcessRunning $ProcessId) -and $ProcessId -notin @(Get-SpareHost) -and [DateTime]::UtcNow -lt $deadline) {
        Start-Sleep -Milliseconds 100
    }
    -not (Test-ProcessRunning $ProcessId) -or $ProcessId -in @(Get-SpareHost)
}

# Runs a script in a child pwsh and returns its output lines.
function Invoke-ChildPwsh([Parameter(Mandatory)] [string] $Script) {
    $child = Get-ChildPwshCommand $Script
    & $child.Exe @($child.Arguments) 2>&1 | ForEach-Object { "$_" }
}

# Starts a script in a child pwsh and returns its process without waiting for it.
function Start-ChildPwsh([Parameter(Mandatory)] [string] $Script) {
    $child = Get-ChildPwshCommand $Script
    $info = [Diagnostics.ProcessStartInfo]::new($child.Exe)
    foreach ($argument in $child.Arguments) { $info.ArgumentList.Add($argument) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    [Diagnostics.Process]::Start($info)
}
