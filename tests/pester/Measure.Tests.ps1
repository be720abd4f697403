# Measure-VirtMachine: one set of counter names for every model, host CPU time and memory, and a format view.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
    $script:CounterNames = @(
        'Instructions', 'Exits', 'IoExits', 'MmioExits', 'HaltExits', 'CpuTime', 'HostMemoryBytes', 'GuestMemoryBytes',
        'Processes', 'OomKills', 'ConsoleBytesOut', 'ConsoleBytesIn', 'ConsoleBytesDropped')
}
AfterAll { Complete-VirtShellTest }

Describe 'Measure-VirtMachine' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
        New-VirtMachine -Definition $HelloDefinition -Name meter | Out-Null
    }

    It 'gives every machine the same properties, counters empty until this process runs it' {
        $measured = Measure-VirtMachine -Name meter
        $measured.PSObject.TypeNames[0] | Should -Be 'VirtShell.Engine.Machines.MachineMeasurement'
        $names = $measured.PSObject.Properties.Name
        foreach ($name in @('Name', 'Model', 'State', 'Uptime') + $CounterNames) { $names | Should -Contain $name }
        $measured.State | Should -Be 'Created'
        foreach ($name in $CounterNames) { $measured.$name | Should -BeNullOrEmpty -Because "$name of a machine not running" }
    }

    It 'counts the emulated guest: instructions, port exits, halts, console bytes, CPU time and memory' {
        Start-VirtMachine -Name meter
        Receive-VirtConsole -Name meter -Wait -Pattern 'Hello' -Timeout 10 | Out-Null
        Send-VirtConsole -Name meter -Line 'abc'
        Receive-VirtConsole -Name meter -Wait -Pattern 'abc' -Timeout 10 | Out-Null
        # The interpreter adds up the instructions of a run when the run returns (at a HLT): wait for the guest to idle.
        $deadline = [datetime]::UtcNow.AddSeconds(30)
        while ((Measure-VirtMachine -Name meter).HaltExits -eq 0 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        $m = Measure-VirtMachine -Name meter

        $m.Model | Should -Be 'emulated'
        $m.Instructions | Should -BeGreaterThan 0
        $m.IoExits | Should -BeGreaterThan 80 -Because 'every byte printed is an OUT to the UART, and more to poll it'
        $m.HaltExits | Should -BeGreaterThan 0 -Because 'the guest halts while it waits for input'
        $m.Exits | Should -BeNullOrEmpty -Because 'the interpreter never leaves to a hypervisor'
        $m.Processes | Should -BeNullOrEmpty
        $m.ConsoleBytesOut | Should -BeGreaterOrEqual ('Hello from VirtShell!'.Length + 'abc'.Length)
        $m.ConsoleBytesIn | Should -Be 4 -Because "'abc' and the carriage return"
        $m.ConsoleBytesDropped | Should -Be 0 -Because 'the guest printed far less than the default rate limit'
        $m.CpuTime | Should -BeOfType [timespan]
        $m.CpuTime | Should -BeGreaterThan ([timespan]::Zero)
        $m.GuestMemoryBytes | Should -Be 1MB
        $m.HostMemoryBytes | Should -BeGreaterThan 0 -Because 'the loader wrote the boot sector'
        $m.HostMemoryBytes | Should -BeLessOrEqual $m.GuestMemoryBytes
    }

    It 'shows a table with CPU time and host memory by default' {
        Start-VirtMachine -Name meter
        $text = Measure-VirtMachine -Name meter | Out-String -Width 200
        $header = ($text -split "`n" | Where-Object { $_ -match '\S' })[0]
        $header -split '\s+' | Where-Object { $_ } | Should -Be @(
            'Name', 'Model', 'State', 'Uptime', 'CPU(s)', 'HostMem(KiB)', 'Instructions', 'Exits', 'IoExits', 'ConsoleOut')
        $text | Should -Match 'meter\s+emulated\s+Running'
    }
}
