# Remoting figures over the SSH host rig (scripts/remoting/SshHosts.ps1): opening a PowerShell session per host next
# to a bare `ssh host true` (OpenSSH's own handshake, the anchor); Get-VirtMachine over 20 machines a host, local, with
# -Session on one remote host, and on three at once (the sessions are asked in parallel; issue #19 aims at <= 2x one);
# and Move-VirtMachine -DestinationSession of running 256 MiB emulated guests between two hosts, by pre-copy and with
# -StopAndCopy: the guest's downtime (paused until it runs on the destination), the whole move, the pre-copy rounds
# and the bytes sent. One guest counts and writes almost nothing; the other (scribbler.asm with 32 MiB of noise
# first, as touch.asm) keeps writing random pages of 4 MiB while it moves.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $Runs = 3,
    [int] $Machines = 20,
    [int] $Moves = 3
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot '../common.ps1')
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')
. (Join-Path $root 'scripts/remoting/SshHosts.ps1')

$reason = Get-SshHostRigSkipReason
if ($reason) { Write-Host "remoting bench skipped: $reason"; return }

function Get-Median([double[]] $values) { $s = $values | Sort-Object; $s[[int][math]::Floor($s.Count / 2)] }
function Measure-Ms([scriptblock] $Script) { (Measure-Command $Script).TotalMilliseconds }

$ModulePath = (Resolve-Path $ModulePath).Path
$rig = New-SshHostRig -Count 3 -ModulePath $ModulePath
$sessions = @()
try {
    $connect = @{ UserName = 'root'; KeyFilePath = $rig.KeyFile; Options = $rig.SshOptions }
    $opens = @{}
    $sshAlone = @{}
    foreach ($entry in $rig.Hosts) {
        $opens[$entry.Name] = foreach ($i in 1..$Runs) {
            Measure-Ms { New-PSSession -HostName $entry.Address @connect | Remove-PSSession }
        }
        $sshAlone[$entry.Name] = foreach ($i in 1..$Runs) {
            Measure-Ms { & ssh -F $rig.ConfigFile $entry.Address true; if ($LASTEXITCODE) { throw "ssh $($entry.Address) true failed" } }
        }
    }

    $sessions = New-SshHostSession $rig
    $definition = Join-Path $root 'machine-defs/hello-emulated.js'
    Invoke-Command -Session $sessions -ArgumentList $definition, $Machines {
        param($Definition, $Count)
        Import-Module VirtShell -ErrorAction Stop
        foreach ($i in 1..$Count) { New-VirtMachine -Definition $Definition -Name "list-$i" | Out-Null }
    }
    # The same store listed in this process: host1's, read only.
    $env:VIRTSHELL_HOME = $rig.Hosts[0].VirtShellHome
    Import-Module $ModulePath
    Get-VirtMachine | Out-Null # the engine's first use in this process
    $local = foreach ($i in 1..$Runs) { Measure-Ms { Get-VirtMachine | Out-Null } }
    Get-VirtMachine -Session $sessions | Out-Null # the module's import in each session, once
    # Alternated, so load from elsewhere on a shared machine falls on both alike.
    $one = [Collections.Generic.List[double]]::new()
    $three = [Collections.Generic.List[double]]::new()
    foreach ($i in 1..(3 * $Runs)) {
        $one.Add((Measure-Ms { Get-VirtMachine -Session $sessions[0] | Out-Null }))
        $three.Add((Measure-Ms { Get-VirtMachine -Session $sessions | Out-Null }))
    }

    # The counting guest with 256 MiB, its image beside it so the export carries it.
    $guest = Join-Path $rig.Root 'guest256'
    New-Item -ItemType Directory (Join-Path $guest 'guests') | Out-Null
    Copy-Item (Join-Path $root 'machine-defs/guests/counting.bin') (Join-Path $guest 'guests')
    (Get-Content -Raw (Join-Path $root 'machine-defs/counting-emulated.js')) -replace "memory: '1M'", "memory: '256M'" -replace "name: 'counting'", "name: 'move256'" |
        Set-Content (Join-Path $guest 'move256.js')
    Invoke-Native nasm -f bin -DFILL_MIB=32 -o (Join-Path $guest 'guests/scribbler.bin') (Join-Path $root 'machine-defs/guests/scribbler.asm')
    (Get-Content -Raw (Join-Path $root 'machine-defs/scribbler-emulated.js')) -replace "memory: '8M'", "memory: '256M'" -replace "name: 'scribbler'", "name: 'scribble256'" |
        Set-Content (Join-Path $guest 'scribble256.js')
    # Moves a guest back and forth between the first two hosts, $Moves times by each method, alternated so that
    # load from elsewhere on a shared machine falls on both alike; the records.
    function Measure-Moves([string] $Name) {
        New-VirtMachine -Session $sessions[0] -Definition (Join-Path $guest "$Name.js") | Start-VirtMachine
        Receive-VirtConsole -Session $sessions[0] -Name $Name -Wait -Pattern '^(\d+|\.)\r?$' -Timeout 120 | Out-Null
        foreach ($i in 1..(2 * $Moves)) {
            $from, $to = if ($i % 2) { $sessions[0], $sessions[1] } else { $sessions[1], $sessions[0] }
            Move-VirtMachine -Session $from -Name $Name -DestinationSession $to -StopAndCopy:($i % 2 -eq 0) -ErrorAction Stop
        }
        Remove-VirtMachine -Session $sessions[0] -Name $Name -Force
    }
    $moveRecords = [ordered]@{}
    foreach ($name in 'move256', 'scribble256') {
        $records = @(Measure-Moves $name)
        foreach ($method in 'pre-copy', 'stop-and-copy') { $moveRecords["$name $method"] = @($records | Where-Object Method -EQ $method) }
    }

    $rows = @(
        foreach ($entry in $rig.Hosts) {
            $open = Get-Median $opens[$entry.Name]
            $ssh = Get-Median $sshAlone[$entry.Name]
            New-BenchRow 'remoting' "New-PSSession -HostName $($entry.Name)" $open 'ms' "median of $Runs; ssh true alone $([math]::Round($ssh)) ms ($([math]::Round($open / $ssh, 1))x)"
        }
        New-BenchRow 'remoting' "Get-VirtMachine, $Machines machines, local" (Get-Median $local) 'ms' "median of $Runs"
        New-BenchRow 'remoting' 'Get-VirtMachine on 1 remote host' (Get-Median $one) 'ms' "median of $($one.Count); $([math]::Round((Get-Median $one) / (Get-Median $local), 1))x local"
        New-BenchRow 'remoting' 'Get-VirtMachine on 3 remote hosts' (Get-Median $three) 'ms' "median of $($three.Count); $([math]::Round((Get-Median $three) / (Get-Median $one), 2))x one host (target <= 2)"
        foreach ($case in $moveRecords.Keys) {
            $records = $moveRecords[$case]
            $guestNote = if ($case -like 'move256*') { 'counting guest, writes almost nothing' } else { 'scribbler, 32 MiB of noise, keeps writing' }
            $copied = [math]::Round((Get-Median $records.CopiedBytes) / 1MB, 1)
            $rounds = if ($records[-1].Rounds.Count) { "; the last's rounds (pages): $(($records[-1].Rounds | ForEach-Object { "$($_.Pages)$(if (-not $_.Live) { ' paused' })" }) -join ', ')" } else { '' }
            New-BenchRow 'remoting' "Move-VirtMachine 256 MiB $case`: downtime" (Get-Median ($records | ForEach-Object { $_.Downtime.TotalMilliseconds })) 'ms' "median of $Moves moves between two hosts ($guestNote); $copied MiB sent$rounds"
            New-BenchRow 'remoting' "Move-VirtMachine 256 MiB $case`: total" (Get-Median ($records | ForEach-Object { $_.Total.TotalMilliseconds })) 'ms' "median of $Moves moves; the last: $($records[-1].Steps)"
        }
    )

    # Console latency: a container prints its clock every 200 ms (the rig's hosts share this machine's clock), and
    # each line's arrival here, less the time it carries, is how late Receive-VirtConsole -Follow brought it: from a
    # machine of this process's own store, and from one on host 1 through its session.
    if ((Get-VirtModel -Name container).Available) {
        $clock = Join-Path $rig.Root 'clock.js'
        @'
import { machine } from 'virtshell';
export default machine({
  name: 'clock', model: 'container', memory: '32M',
  container: {
    rootfs: { busybox: true },
    process: { args: ['/bin/sh', '-c', "trap 'exit 0' TERM; while true; do adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf \"%d.%06d\\n\", s, u }'; sleep 0.2; done"] },
  },
});
'@ | Set-Content -LiteralPath $clock
        function Measure-ConsoleLag([hashtable] $On, [int] $Lines) {
            New-VirtMachine @On -Definition $clock | Start-VirtMachine
            try {
                Receive-VirtConsole @On -Name clock -Wait -Timeout 30 | Out-Null # what it printed before
                $lags = Receive-VirtConsole @On -Name clock -Follow -Timeout 120 | ForEach-Object {
                    ([DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() - [double]$_ * 1000)
                } | Select-Object -Skip 1 -First $Lines
                [pscustomobject]@{ Median = Get-Median $lags; Lines = @($lags).Count }
            }
            finally { Remove-VirtMachine @On -Name clock -Force }
        }
        $listingHome = $env:VIRTSHELL_HOME
        $env:VIRTSHELL_HOME = Join-Path $rig.Root 'bench-home'
        $localLag = Measure-ConsoleLag @{} 25
        $env:VIRTSHELL_HOME = $listingHome
        $remoteLag = Measure-ConsoleLag @{ Session = $sessions[0] } 25
        $rows += New-BenchRow 'remoting' 'Receive-VirtConsole -Follow, line printed to here: local' $localLag.Median 'ms' "median of $($localLag.Lines) lines of a container printing every 200 ms"
        $rows += New-BenchRow 'remoting' 'Receive-VirtConsole -Follow, line printed to here: 1 remote host' $remoteLag.Median 'ms' "median of $($remoteLag.Lines) lines; $([math]::Round($remoteLag.Median - $localLag.Median, 1)) ms more than local"
    }
    else { Write-Host "console latency rows skipped: $((Get-VirtModel -Name container).Reason)" }
    Save-BenchRows (Join-Path $OutDirectory 'remoting.json') $rows
}
finally {
    Get-PSSession | Remove-PSSession
    Remove-SshHostRig $rig
}
