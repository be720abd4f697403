# Live migration between hosts by pre-copy (issues #17 and #19): two network-namespace hosts with their own sshd and
# store (scripts/remoting/SshHosts.ps1, as Remoting.Tests.ps1). An emulated guest's RAM is sent while it runs, round
# after round of what it wrote meanwhile, and only the last round, its CPU and devices and its disks go paused.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    . (Join-Path $RepoRoot 'scripts/remoting/SshHosts.ps1')
    $script:RigSkipReason = Get-SshHostRigSkipReason
    $script:CountingDefinition = Join-Path $RepoRoot 'machine-defs/counting-emulated.js'
    $script:ScribblerDefinition = Join-Path $RepoRoot 'machine-defs/scribbler-emulated.js'
    foreach ($image in 'counting', 'scribbler' | ForEach-Object { Join-Path $RepoRoot "machine-defs/guests/$_.bin" }) {
        if (-not $RigSkipReason -and -not (Test-Path $image)) { $script:RigSkipReason = "$image is not built (run ./build.ps1 -Task Build)" }
    }
    if (-not $RigSkipReason) {
        $script:Rig = New-SshHostRig -Count 2 -ModulePath (Get-VirtShellModulePath)
        $script:Sessions = New-SshHostSession $Rig
    }
}

AfterAll {
    Get-PSSession | Remove-PSSession
    if ($Rig) { Remove-SshHostRig $Rig }
    Complete-VirtShellTest
}

Describe 'Live migration by pre-copy between two SSH hosts' {
    BeforeEach { if ($RigSkipReason) { Set-ItResult -Skipped -Because $RigSkipReason } }

    It 'moves a running counting guest from host A to host B by pre-copy: its count goes on there and it is gone from A' {
        $a, $b = $Sessions
        New-VirtMachine -Session $a -Definition $CountingDefinition | Start-VirtMachine
        Receive-VirtConsole -Session $a -Name counting -Wait -Pattern '^20\r?$' -Timeout 60 | Out-Null
        $reached = [int](@(Receive-VirtConsole -Session $a -Name counting -FromStart) | Where-Object { $_ -match '^\d+$' })[-1]
        try {
            $move = Move-VirtMachine -Session $a -Name counting -DestinationSession $b
            $move.Method | Should -Be 'pre-copy'
            $move.Rounds.Count | Should -BeGreaterOrEqual 2
            $move.Rounds[0].Live | Should -BeTrue
            $move.Rounds[0].Pages | Should -BeGreaterThan 0
            $move.Rounds[-1].Live | Should -BeFalse
            $move.Downtime | Should -BeGreaterThan ([TimeSpan]::Zero)
            $move.Total | Should -BeGreaterThan $move.Downtime

            Get-VirtMachine -Session $a -Name counting -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            [VirtShell.Engine.Machines.MachineState] (Get-VirtMachine -Session $b -Name counting).State | Should -Be 'Running'
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do {
                $counts = @(Receive-VirtConsole -Session $b -Name counting -FromStart | Select-Object -Skip 1 | Where-Object { $_ -match '^\d+$' } | ForEach-Object { [int]$_ })
            } until ($counts.Count -gt 20 -or [DateTime]::UtcNow -gt $deadline)
            $counts.Count | Should -BeGreaterThan 20
            $counts[0] | Should -BeGreaterOrEqual $reached
            for ($i = 1; $i -lt $counts.Count; $i++) { $counts[$i] | Should -Be ($counts[0] + $i) }
        }
        finally {
            Remove-VirtMachine -Session $a, $b -Name counting -Force -ErrorAction SilentlyContinue
        }
    }

    It 'moves a guest that keeps writing its RAM: later rounds send what it wrote, and it goes on writing on B without booting again' {
        $a, $b = $Sessions
        New-VirtMachine -Session $a -Definition $ScribblerDefinition | Start-VirtMachine
        Receive-VirtConsole -Session $a -Name scribbler -Wait -Pattern '^\.\r?$' -Timeout 60 | Out-Null
        try {
            $move = Move-VirtMachine -Session $a -Name scribbler -DestinationSession $b
            $move.Method | Should -Be 'pre-copy'
            $move.Rounds[0].Pages | Should -BeGreaterThan 1000
            $move.Rounds[1].Pages | Should -BeGreaterThan 0
            $move.Rounds[-1].Live | Should -BeFalse

            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do { $lines = @(Receive-VirtConsole -Session $b -Name scribbler -FromStart) } until ($lines.Count -ge 4 -or [DateTime]::UtcNow -gt $deadline)
            # Every line a dot (the first may be the end of one cut by the pause), none "ready": it went on, not booted again.
            @($lines | Select-Object -Skip 1 | Where-Object { $_ -notmatch '^\.\r?$' }) | Should -BeNullOrEmpty
            $lines.Count | Should -BeGreaterOrEqual 4
            $lines -match 'ready' | Should -BeNullOrEmpty
            [VirtShell.Engine.Machines.MachineState] (Get-VirtMachine -Session $b -Name scribbler).State | Should -Be 'Running'
        }
        finally {
            Remove-VirtMachine -Session $a, $b -Name scribbler -Force -ErrorAction SilentlyContinue
        }
    }

    It 'moves a paused machine by stop-and-copy, says why, and it stays paused on B' {
        $a, $b = $Sessions
        New-VirtMachine -Session $a -Definition $CountingDefinition | Start-VirtMachine
        Receive-VirtConsole -Session $a -Name counting -Wait -Pattern '^3\r?$' -Timeout 60 | Out-Null
        Suspend-VirtMachine -Session $a -Name counting
        try {
            $move = Move-VirtMachine -Session $a -Name counting -DestinationSession $b
            $move.Method | Should -Be 'stop-and-copy'
            $move.MethodReason | Should -Match 'Paused, not running'
            $move.Rounds.Count | Should -Be 0
            [VirtShell.Engine.Machines.MachineState] (Get-VirtMachine -Session $b -Name counting).State | Should -Be 'Paused'
        }
        finally {
            Remove-VirtMachine -Session $a, $b -Name counting -Force -ErrorAction SilentlyContinue
        }
    }
}
