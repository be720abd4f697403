# PowerShell remoting over SSH to VirtShell hosts: three network namespaces on this machine, each with its own sshd,
# address and VIRTSHELL_HOME (scripts/remoting/SshHosts.ps1). Sessions are plain New-PSSession -HostName ones, as a
# user would open them; the cmdlets' own -Session parameters (issue #19) build on this.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    . (Join-Path $RepoRoot 'scripts/remoting/SshHosts.ps1')
    $script:RigSkipReason = Get-SshHostRigSkipReason
    # hello.bin is built by build.ps1 -Task Build; the remote hosts read it from the same filesystem.
    if (-not $RigSkipReason -and -not (Test-Path $HelloImage)) { $script:RigSkipReason = "$HelloImage is not built (run ./build.ps1 -Task Build)" }
    if (-not $RigSkipReason) {
        $script:Rig = New-SshHostRig -Count 3 -ModulePath (Get-VirtShellModulePath)
        $script:Sessions = foreach ($entry in $Rig.Hosts) {
            New-PSSession -HostName $entry.Address -UserName root -KeyFilePath $Rig.KeyFile -Options $Rig.SshOptions -Name $entry.Name -ErrorAction Stop
        }
    }
}

AfterAll {
    if ($Sessions) { $Sessions | Remove-PSSession }
    if ($Rig) { Remove-SshHostRig $Rig }
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
        $Sessions | Remove-PSSession
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
