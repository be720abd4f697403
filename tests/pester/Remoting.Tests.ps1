# PowerShell remoting over SSH to VirtShell hosts: three network namespaces on this machine, each with its own sshd,
# address and VIRTSHELL_HOME (scripts/remoting/SshHosts.ps1). Sessions are plain New-PSSession -HostName ones, as a
# user would open them; the cmdlets' -Session and -HostName run on them (issue #19). The tests share one rig, in
# order: the last ones take a host down and tear the rig down.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    # The cmdlets here read definitions (placement) and keep nothing, but get a store of their own all the same.
    Initialize-VirtShellTest
    . (Join-Path $RepoRoot 'scripts/remoting/SshHosts.ps1')
    $script:RigSkipReason = Get-SshHostRigSkipReason
    # hello.bin is built by build.ps1 -Task Build; the remote hosts read it from the same filesystem.
    $script:CountingDefinition = Join-Path $RepoRoot 'machine-defs/counting-emulated.js'
    foreach ($image in $HelloImage, (Join-Path $RepoRoot 'machine-defs/guests/counting.bin')) {
        if (-not $RigSkipReason -and -not (Test-Path $image)) { $script:RigSkipReason = "$image is not built (run ./build.ps1 -Task Build)" }
    }
    if (-not $RigSkipReason) {
        $script:Rig = New-SshHostRig -Count 3 -ModulePath (Get-VirtShellModulePath)
        $script:Sessions = New-SshHostSession $Rig
    }
}

AfterAll {
    # The sessions -HostName opened and kept, with the test's own.
    Get-PSSession | Remove-PSSession
    if ($Rig) { Remove-SshHostRig $Rig }
    Complete-VirtShellTest
}

Describe 'Three SSH hosts in network namespaces' {
    BeforeEach { if ($RigSkipReason) { Set-ItResult -Skipped -Because $RigSkipReason } }

    It 'opens a session on each host, each on its own address' {
        $Sessions.Count | Should -Be 3
        $Sessions.State | Should -Be @('Opened', 'Opened', 'Opened')
        $Sessions.ComputerName | Should -Be $Rig.Hosts.Address
        foreach ($session in $Sessions) {
            $addresses = Invoke-Command -Session $session { & ip -4 -o addr show dev eth0 }
            "$addresses" | Should -Match ([regex]::Escape(" $($session.ComputerName)/24 "))
        }
    }

    It 'imports VirtShell from the module path the host was given, and lists the models' {
        foreach ($session in $Sessions) {
            $models = Invoke-Command -Session $session {
                Import-Module VirtShell -ErrorAction Stop
                Get-VirtModel | ForEach-Object Name
            }
            $models | Should -Contain 'emulated'
            Invoke-Command -Session $session { (Get-Module VirtShell).ModuleBase } | Should -Be (Get-VirtShellModulePath)
        }
    }

    It 'runs an emulated guest on each host, in that host''s own store' {
        foreach ($session in $Sessions) {
            $result = Invoke-Command -Session $session -ArgumentList $HelloDefinition, $session.Name {
                param($Definition, $Name)
                $ErrorActionPreference = 'Stop'
                Import-Module VirtShell
                New-VirtMachine -Definition $Definition -Name "hello-$Name" | Out-Null
                Start-VirtMachine -Name "hello-$Name"
                $line = Receive-VirtConsole -Name "hello-$Name" -Wait -Pattern 'Hello' -Timeout 20
                Stop-VirtMachine -Name "hello-$Name" -TurnOff
                [pscustomobject]@{
                    Home = $env:VIRTSHELL_HOME
                    Line = "$line"
                    State = "$((Get-VirtMachine -Name "hello-$Name").State)"
                    Machines = @(Get-VirtMachine | ForEach-Object Name)
                }
            }
            $entry = $Rig.Hosts | Where-Object Name -EQ $session.Name
            $result.Home | Should -Be $entry.VirtShellHome
            $result.Line | Should -Match 'Hello'
            $result.State | Should -Be 'Stopped'
            # Each store holds only its own machine: the hosts do not share one.
            $result.Machines | Should -Be @("hello-$($session.Name)")
            Test-Path (Join-Path $entry.VirtShellHome "machines/hello-$($session.Name)/machine.json") | Should -BeTrue
        }
    }

    It 'creates machines on the three hosts with one New-VirtMachine, lists them with one Get-VirtMachine, stops them through the pipeline and removes them' {
        # -WhatIf shows the placement and creates nothing.
        $HelloDefinition, $HelloDefinition, $HelloDefinition | New-VirtMachine -Session $Sessions -WhatIf
        Get-VirtMachine -Session $Sessions -Name hello -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

        # Three machines named alike: a host that has one already cannot take the next, so each goes elsewhere.
        $created = $HelloDefinition, $HelloDefinition, $HelloDefinition | New-VirtMachine -Session $Sessions
        @($created.ComputerName | Sort-Object) | Should -Be @($Rig.Hosts.Address | Sort-Object)
        foreach ($entry in $Rig.Hosts) { Test-Path (Join-Path $entry.VirtShellHome 'machines/hello/machine.json') | Should -BeTrue }
        # No fourth host fits: the error names every host and why.
        $HelloDefinition | New-VirtMachine -Session $Sessions -ErrorAction SilentlyContinue -ErrorVariable full
        $full.FullyQualifiedErrorId | Should -BeLike 'VirtShell.NoHostFits*'
        foreach ($entry in $Rig.Hosts) { "$full" | Should -BeLike "*host $($entry.Address): it has a machine named 'hello'*" }
        # One session forces the host.
        (New-VirtMachine -Session $Sessions[1] -Definition $HelloDefinition -Name forced).ComputerName | Should -Be $Rig.Hosts[1].Address
        Remove-VirtMachine -Session $Sessions[1] -Name forced -Confirm:$false

        $started = Get-VirtMachine -Session $Sessions -Name hello | Start-VirtMachine -PassThru
        $started.State | Should -Be @('Running', 'Running', 'Running')
        $listed = Get-VirtMachine -Session $Sessions -Name hello
        $listed.Count | Should -Be 3
        @($listed.ComputerName) | Should -Be @($Sessions.ComputerName)
        # Machine objects with their host, shown by the module's views, not property bags.
        $listed[0].PSObject.TypeNames | Should -Contain 'VirtShell.Engine.Machines.Machine'
        $listed[0].Session.ComputerName | Should -Be $Sessions[0].ComputerName
        $table = $listed | Format-Table | Out-String
        $table | Should -Match 'ComputerName\s+Name\s+Model\s+State\s+Uptime'
        $table | Should -Match "$([regex]::Escape($Rig.Hosts[2].Address))\s+hello\s+emulated\s+Running"
        ($listed[0] | Format-List | Out-String) | Should -Match 'DefinitionSource\s+:'

        # Each object goes back to its own host.
        $stopped = Get-VirtMachine -Session $Sessions -Name hello | Stop-VirtMachine -TurnOff -PassThru
        $stopped.State | Should -Be @('Stopped', 'Stopped', 'Stopped')
        @($stopped.ComputerName) | Should -Be @($Sessions.ComputerName)
        Get-VirtMachine -Session $Sessions -Name hello | Remove-VirtMachine -Confirm:$false
        Get-VirtMachine -Session $Sessions -Name hello -ErrorAction SilentlyContinue -ErrorVariable gone | Should -BeNullOrEmpty
        foreach ($entry in $Rig.Hosts) { "$gone" | Should -BeLike "*host $($entry.Address): no machine named 'hello'*" }
        foreach ($entry in $Rig.Hosts) { Test-Path (Join-Path $entry.VirtShellHome 'machines/hello') | Should -BeFalse }
    }

    It 'moves a running counting guest from host A to host B: its count goes on there and it is gone from A' {
        $a, $b = $Sessions[0], $Sessions[2]
        New-VirtMachine -Session $a -Definition $CountingDefinition | Start-VirtMachine
        Receive-VirtConsole -Session $a -Name counting -Wait -Pattern '^30\r?$' -Timeout 60 | Out-Null
        $reached = [int](@(Receive-VirtConsole -Session $a -Name counting -FromStart) | Where-Object { $_ -match '^\d+$' })[-1]

        try {
            $move = Move-VirtMachine -Session $a -Name counting -DestinationSession $b
            $move.Name | Should -Be 'counting'
            $move.Source | Should -Be $a.ComputerName
            $move.Destination | Should -Be $b.ComputerName
            $move.State | Should -Be 'Running'
            $move.Downtime | Should -BeGreaterThan ([TimeSpan]::Zero)
            $move.Total | Should -BeGreaterOrEqual $move.Downtime
            $move.CopiedBytes | Should -BeGreaterThan 0

            Get-VirtMachine -Session $a -Name counting -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            Test-Path (Join-Path $Rig.Hosts[0].VirtShellHome 'machines/counting') | Should -BeFalse
            (Get-VirtMachine -Session $b -Name counting).State | Should -Be 'Running'
            # B's console starts where the guest was paused (its first line may be the rest of one cut there): the
            # count goes on from at least where A had reached, one by one, instead of starting again.
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do {
                $counts = @(Receive-VirtConsole -Session $b -Name counting -FromStart | Select-Object -Skip 1 | Where-Object { $_ -match '^\d+$' } | ForEach-Object { [int]$_ })
            } until ($counts.Count -gt 30 -or [DateTime]::UtcNow -gt $deadline)
            $counts.Count | Should -BeGreaterThan 30
            $counts[0] | Should -BeGreaterOrEqual $reached
            for ($i = 1; $i -lt $counts.Count; $i++) { $counts[$i] | Should -Be ($counts[0] + $i) }
        }
        finally {
            Remove-VirtMachine -Session $a, $b -Name counting -Force -ErrorAction SilentlyContinue
        }
    }

    It 'moves a running machine from this host to a host, and -PassThru gives it as it is there' {
        New-VirtMachine -Definition $CountingDefinition | Start-VirtMachine
        try {
            $out = Move-VirtMachine counting -DestinationSession $Sessions[2] -PassThru
            $out[0].Source | Should -Be 'this host'
            $out[0].Destination | Should -Be $Sessions[2].ComputerName
            $out[1].ComputerName | Should -Be $Sessions[2].ComputerName
            $out[1].State | Should -Be 'Running'
            Get-VirtMachine -Name counting -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
        finally {
            Remove-VirtMachine -Name counting -Force -ErrorAction SilentlyContinue
            Remove-VirtMachine -Session $Sessions[2] -Name counting -Force -ErrorAction SilentlyContinue
        }
    }

    It 'refuses a move it cannot make, with the reason, and leaves the machine running where it was' {
        $a, $b = $Sessions[0], $Sessions[2]
        New-VirtMachine -Session $a -Definition $CountingDefinition | Start-VirtMachine
        try {
            New-VirtMachine -Session $b -Definition $CountingDefinition | Out-Null
            Move-VirtMachine -Session $a -Name counting -DestinationSession $b -ErrorAction SilentlyContinue -ErrorVariable refused
            "$refused" | Should -BeLike "*host $($b.ComputerName) already has a machine named 'counting'*"
            (Get-VirtMachine -Session $a -Name counting).State | Should -Be 'Running'
            (Get-VirtMachine -Session $b -Name counting).State | Should -Be 'Created'
        }
        finally {
            Remove-VirtMachine -Session $a, $b -Name counting -Force -ErrorAction SilentlyContinue
        }
    }

    It 'says which host failed and why: an unknown host, a key it does not accept, a host without VirtShell' {
        Get-VirtMachine -HostName nosuchhost.invalid -SshOption $Rig.SshOptions -ErrorAction SilentlyContinue -ErrorVariable unknown 2>$null
        $unknown.Count | Should -Be 1
        $unknown[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.HostUnreachable*'
        "$unknown" | Should -BeLike '*host nosuchhost.invalid: could not open a PowerShell session over SSH: ssh: Could not resolve hostname nosuchhost.invalid*'

        $wrongKey = Join-Path $TestDrive 'wrong_ed25519'
        & ssh-keygen -q -t ed25519 -N '' -f $wrongKey
        $address = $Rig.Hosts[0].Address
        Get-VirtMachine -HostName "root@$address" -KeyFilePath $wrongKey -SshOption $Rig.SshOptions -ErrorAction SilentlyContinue -ErrorVariable denied 2>$null
        $denied.Count | Should -Be 1
        "$denied" | Should -BeLike "*host ${address}: could not open a PowerShell session over SSH: *Permission denied (publickey)*"

        # A host whose pwsh cannot find the module: the session's own PSModulePath no longer leads to it.
        $bare = New-PSSession -HostName $address -UserName root -KeyFilePath $Rig.KeyFile -Options $Rig.SshOptions -ErrorAction Stop
        try {
            Invoke-Command -Session $bare { $env:PSModulePath = '/nonexistent'; $env:VIRTSHELL_MODULE_PATH = $null }
            Get-VirtMachine -Session $bare -ErrorAction SilentlyContinue -ErrorVariable missing | Should -BeNullOrEmpty
            $missing.Count | Should -Be 1
            $missing[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.ModuleMissing*'
            "$missing" | Should -BeLike "*host ${address}: VirtShell is not installed there*PSModulePath*VIRTSHELL_MODULE_PATH*"
        }
        finally { Remove-PSSession $bare }
    }

    It 'reports a host whose sshd is killed while listings run, and the other two still answer' {
        $down = $Rig.Hosts[1]
        $killer = Start-ThreadJob -ArgumentList $RepoRoot, $down {
            param($Root, $Entry)
            . (Join-Path $Root 'scripts/remoting/SshHosts.ps1')
            Start-Sleep -Milliseconds 1500
            Stop-SshHost $Entry
        }
        $rounds = [Collections.Generic.List[object]]::new()
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        do {
            $failed = $null
            $answers = Get-VirtMachine -Session $Sessions -ErrorAction SilentlyContinue -ErrorVariable failed
            $rounds.Add([pscustomobject]@{ Hosts = @($answers.ComputerName | Sort-Object -Unique); Errors = @($failed) })
        } until (($killer.State -eq 'Completed' -and $rounds[-1].Errors.Count -gt 0) -or [DateTime]::UtcNow -gt $deadline)
        $killer | Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop
        $rounds.Count | Should -BeGreaterThan 1
        # Every listing, before, during and after the kill, had the other two hosts' machines.
        foreach ($round in $rounds) {
            $round.Hosts | Should -Contain $Rig.Hosts[0].Address
            $round.Hosts | Should -Contain $Rig.Hosts[2].Address
        }
        $last = $rounds[-1]
        $last.Hosts | Should -Not -Contain $down.Address
        $last.Errors.Count | Should -Be 1
        $last.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.HostUnreachable*'
        "$($last.Errors[0])" | Should -BeLike "host $($down.Address) did not answer:*"
        $last.Errors[0].TargetObject.ComputerName | Should -Be $down.Address
    }

    It 'reports a host that went down, by name, while the other two still answer' {
        $down = $Rig.Hosts[1]
        Stop-SshHost $down
        $answers = Invoke-Command -Session $Sessions { Get-VirtModel -Name emulated } -ErrorAction SilentlyContinue -ErrorVariable failed
        @($answers.PSComputerName | Sort-Object) | Should -Be @($Rig.Hosts[0].Address, $Rig.Hosts[2].Address)
        $failed.Count | Should -BeGreaterThan 0
        $failed[0].TargetObject.ComputerName | Should -Be $down.Address
        # A new session to it fails. pwsh's message ("The SSH transport process has abruptly terminated") does not
        # name the host; only ssh's stderr does, so the cmdlets' -Session/-HostName must add the name (issue #19).
        { New-PSSession -HostName $down.Address -UserName root -KeyFilePath $Rig.KeyFile -Options $Rig.SshOptions -ErrorAction Stop 2>$null } |
            Should -Throw '*SSH transport process*'
    }

    It 'tears down every sshd, namespace and interface it made' {
        $sshdPids = @($Rig.Hosts.SshdPid | Where-Object { $_ })
        $sshdPids.Count | Should -Be 2
        Get-PSSession | Remove-PSSession
        $script:Sessions = $null
        Remove-SshHostRig $Rig
        foreach ($processId in $sshdPids) { Get-Process -Id $processId -ErrorAction Ignore | Should -BeNullOrEmpty }
        $namespaces = @(& ip netns list | ForEach-Object { ($_ -split ' ')[0] })
        foreach ($entry in $Rig.Hosts) { $namespaces | Should -Not -Contain $entry.Namespace }
        & ip link show $Rig.Bridge 2>$null | Should -BeNullOrEmpty
        Test-Path $Rig.Root | Should -BeFalse
        # Nothing the hosts ran (the subsystem's pwsh, its guests) outlives them: every such command line names the rig.
        $left = Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' | Where-Object {
            (Get-Content -LiteralPath "$($_.FullName)/cmdline" -Raw -ErrorAction Ignore) -like "*$($Rig.Root)*"
        }
        $left | Should -BeNullOrEmpty
        $script:Rig = $null
    }
}
