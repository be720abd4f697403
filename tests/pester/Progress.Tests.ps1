# Long waits write progress records; engine calls write verbose lines.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason

    # Runs $Script in a runspace of its own (same process, so the same machines) and returns its streams.
    function Invoke-WithStreams([string] $Script) {
        $ps = New-VirtShellRunspacePowerShell
        try {
            $ps.AddScript($Script) | Out-Null
            $output = $ps.Invoke()
            [pscustomobject]@{ Output = $output; Progress = @($ps.Streams.Progress); Errors = @($ps.Streams.Error) }
        }
        finally { $ps.Dispose() }
    }
}
AfterAll { Complete-VirtShellTest }

Describe 'Write-Progress while waiting' {
    BeforeAll {
        if ($SkipReason) { return }
        New-VirtMachine -Definition $HelloDefinition -Name prog | Start-VirtMachine
        Receive-VirtConsole -Name prog -Wait -Pattern 'Hello' -Timeout 10 | Out-Null
    }
    BeforeEach { if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason } }

    It 'Wait-VirtMachine shows the machine, its state and the time left, then takes the bar down' {
        $run = Invoke-WithStreams 'Wait-VirtMachine -Name prog -For Stopped -Timeout 1.5'
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.Timeout,*'
        $shown = @($run.Progress | Where-Object RecordType -eq 'Processing')
        $shown.Count | Should -BeGreaterThan 0
        $shown[0].Activity | Should -Be 'Waiting for machine prog to be Stopped'
        $shown[0].StatusDescription | Should -Match 'it is Running'
        $shown[-1].PercentComplete | Should -BeGreaterThan 0
        $shown[-1].SecondsRemaining | Should -BeLessOrEqual 2
        $run.Progress[-1].RecordType | Should -Be 'Completed'
    }

    It 'Receive-VirtConsole -Wait shows what it waits for, then takes the bar down' {
        $run = Invoke-WithStreams "Receive-VirtConsole -Name prog -Wait -Pattern 'never printed' -Timeout 1.5"
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.Timeout,*'
        $shown = @($run.Progress | Where-Object RecordType -eq 'Processing')
        $shown.Count | Should -BeGreaterThan 0
        $shown[0].Activity | Should -Be "Waiting for machine prog to print a line matching 'never printed'"
        $run.Progress[-1].RecordType | Should -Be 'Completed'
    }

    It 'a wait answered at once shows no bar' {
        $run = Invoke-WithStreams 'Wait-VirtMachine -Name prog -For Running -Timeout 5'
        $run.Progress | Should -BeNullOrEmpty
    }
}

Describe 'Write-Verbose around engine calls' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'says what each call does to which machine of which model' {
        $lines = & {
            New-VirtMachine -Definition $HelloDefinition -Name verbose -Verbose | Out-Null
            Start-VirtMachine -Name verbose -Verbose
            Suspend-VirtMachine -Name verbose -Verbose
            Stop-VirtMachine -Name verbose -TurnOff -Verbose
            Remove-VirtMachine -Name verbose -Confirm:$false -Verbose
            Test-VirtDefinition $HelloDefinition -Verbose | Out-Null
        } 4>&1 | ForEach-Object { "$_" }
        $lines | Should -Contain "Creating machine verbose from $HelloDefinition"
        $lines | Should -Contain 'Starting machine verbose (model emulated)'
        $lines | Should -Contain 'Suspending machine verbose (model emulated)'
        $lines | Should -Contain 'Turning off machine verbose (model emulated)'
        $lines | Should -Contain 'Removing machine verbose (model emulated)'
        $lines | Should -Contain "Validating definition $HelloDefinition"
        $lines | Where-Object { $_ -like 'Machine verbose is Running after * s' } | Should -Not -BeNullOrEmpty
    }
}
