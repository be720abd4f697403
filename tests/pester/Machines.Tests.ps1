BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason
}
AfterAll { Complete-VirtShellTest }

Describe 'New-VirtMachine, Get-VirtMachine, Remove-VirtMachine' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'creates a machine from a definition, lists it, and removes it with its folder' {
        $machine = New-VirtMachine -Definition $HelloDefinition -Name m1
        $machine.Name | Should -Be 'm1'
        $machine.Model | Should -Be 'emulated'
        $machine.State | Should -Be 'Created'
        (Get-VirtMachine).Name | Should -Be @('m1')
        (Get-VirtMachine -Name m1).Directory | Should -Exist

        Remove-VirtMachine -Name m1 -Confirm:$false
        Get-VirtMachine | Should -BeNullOrEmpty
        $machine.Directory | Should -Not -Exist
        Get-MachineFolderEntries | Should -BeNullOrEmpty
    }

    It 'takes the name from the definition when -Name is not given' {
        (New-VirtMachine -Definition $HelloDefinition).Name | Should -Be 'hello'
    }

    It 'resolves a relative definition path against the current location' {
        Push-Location (Split-Path $HelloDefinition)
        try { (New-VirtMachine -Definition ./hello-emulated.js -Name rel).Name | Should -Be 'rel' }
        finally { Pop-Location }
    }

    It 'refuses a name already taken with MachineExists, and leaves the first machine as it was' {
        $first = New-VirtMachine -Definition $HelloDefinition -Name taken
        $record = Get-Content (Join-Path $first.Directory 'machine.json') -Raw

        New-VirtMachine -Definition $HelloDefinition -Name taken -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineExists,*'
        $err[0].Exception.Message | Should -Match "'taken'"
        $err[0].CategoryInfo.Category | Should -Be 'ResourceExists'

        Get-Content (Join-Path $first.Directory 'machine.json') -Raw | Should -Be $record
        (Get-VirtMachine -Name taken).State | Should -Be 'Created'
        Get-MachineFolderEntries | Should -Be @('taken')
    }

    It 'refuses an invalid machine name, naming it' {
        { New-VirtMachine -Definition $HelloDefinition -Name 'bad/name' -ErrorAction Stop } |
            Should -Throw -ErrorId 'VirtShell.InvalidArgument*' -ExpectedMessage "*'bad/name'*"
        Get-MachineFolderEntries | Should -BeNullOrEmpty
    }

    It 'reports a definition file that does not exist' {
        { New-VirtMachine -Definition (Join-Path $TestDrive 'nowhere.js') -ErrorAction Stop } |
            Should -Throw -ErrorId 'VirtShell.DefinitionNotFound*' -ExpectedMessage '*nowhere.js*'
    }

    It 'lists by wildcard silently, and an exact name that does not exist is a MachineNotFound error' {
        New-VirtMachine -Definition $HelloDefinition -Name web1 | Out-Null
        New-VirtMachine -Definition $HelloDefinition -Name web2 | Out-Null
        New-VirtMachine -Definition $HelloDefinition -Name db1 | Out-Null
        (Get-VirtMachine -Name web*).Name | Should -Be @('web1', 'web2')
        (Get-VirtMachine).Count | Should -Be 3
        Get-VirtMachine -Name 'zz*' -ErrorVariable err | Should -BeNullOrEmpty
        $err | Should -BeNullOrEmpty

        Get-VirtMachine -Name nosuch -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound,*'
        $err[0].TargetObject | Should -Be 'nosuch'
    }

    It 'takes a machine first in the line by its type, and a string there as -Name' {
        $machine = New-VirtMachine -Definition $HelloDefinition -Name positional
        (Get-VirtMachine positional).Name | Should -Be 'positional'
        Remove-VirtMachine $machine -WhatIf
        Remove-VirtMachine $machine -Confirm:$false
        Get-MachineFolderEntries | Should -BeNullOrEmpty
    }

    It 'removes with -Force without asking, as Remove-VM does, while -Force -WhatIf removes nothing' {
        New-VirtMachine -Definition $HelloDefinition -Name forced | Out-Null
        Remove-VirtMachine -Name forced -Force -WhatIf
        (Get-VirtMachine).Name | Should -Be @('forced')
        # In a non-interactive pwsh a confirmation prompt is an error.
        Invoke-ChildPwsh 'Remove-VirtMachine -Name forced -Force; "removed"' | Should -Be 'removed'
        Get-VirtMachine | Should -BeNullOrEmpty
    }

    It 'takes names from the pipeline by property name' {
        New-VirtMachine -Definition $HelloDefinition -Name p1 | Out-Null
        ([pscustomobject]@{ Name = 'p1' } | Get-VirtMachine).Name | Should -Be 'p1'
    }

    It 'completes machine names' {
        New-VirtMachine -Definition $HelloDefinition -Name alpha | Out-Null
        New-VirtMachine -Definition $HelloDefinition -Name alps | Out-Null
        New-VirtMachine -Definition $HelloDefinition -Name beta | Out-Null
        foreach ($command in 'Get-VirtMachine', 'Start-VirtMachine', 'Remove-VirtMachine', 'Receive-VirtConsole') {
            $line = "$command -Name al"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('alpha', 'alps')
        }
    }

    It 'shows Name, Model, State and Uptime (hh:mm:ss) in its table, LastExit in its list' {
        New-VirtMachine -Definition $HelloDefinition -Name shown | Out-Null
        $table = (Get-VirtMachine shown | Format-Table | Out-String -Width 200) -split "`n" | Where-Object { $_ -match '\S' }
        $table[0] -split '\s+' | Where-Object { $_ } | Should -Be @('Name', 'Model', 'State', 'Uptime')
        $table[2] | Should -Match '^shown\s+emulated\s+Created\s+00:00:00\s*$'
        Get-VirtMachine shown | Format-List | Out-String | Should -Match 'LastExit'
    }
}

Describe 'Errors for machines that do not exist' {
    It 'Start-VirtMachine on a missing name writes MachineNotFound with the name as target' {
        Start-VirtMachine -Name ghost -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound,*'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].TargetObject | Should -Be 'ghost'
        $err[0].Exception.Message | Should -Match "'ghost'"
    }

    It 'every cmdlet that takes -Name reports MachineNotFound the same way' {
        foreach ($command in 'Stop-VirtMachine', 'Suspend-VirtMachine', 'Resume-VirtMachine', 'Remove-VirtMachine', 'Receive-VirtConsole', 'Measure-VirtMachine') {
            $confirm = if ((Get-Command $command).Parameters.ContainsKey('Confirm')) { @{ Confirm = $false } } else { @{} }
            & $command -Name ghost -ErrorVariable err -ErrorAction SilentlyContinue @confirm
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound,*' -Because $command
        }
        Wait-VirtMachine -Name ghost -For Stopped -Timeout 1 -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound,*'
        Send-VirtConsole -Name ghost -Line x -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound,*'
    }
}

Describe '-WhatIf' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'New-VirtMachine -WhatIf creates nothing' {
        New-VirtMachine -Definition $HelloDefinition -Name wi -WhatIf | Should -BeNullOrEmpty
        Get-MachineFolderEntries | Should -BeNullOrEmpty
    }

    It 'Start, Remove and Send with -WhatIf leave the machine as it was' {
        New-VirtMachine -Definition $HelloDefinition -Name wi | Out-Null
        Start-VirtMachine -Name wi -WhatIf
        (Get-VirtMachine wi).State | Should -Be 'Created'
        Remove-VirtMachine -Name wi -WhatIf
        Get-VirtMachine wi | Should -Not -BeNullOrEmpty

        Start-VirtMachine -Name wi
        try {
            Receive-VirtConsole -Name wi -Wait -Pattern 'Hello from VirtShell' -Timeout 20 | Out-Null
            Send-VirtConsole -Name wi -Line 'exit' -WhatIf
            Stop-VirtMachine -Name wi -WhatIf
            Suspend-VirtMachine -Name wi -WhatIf
            Start-Sleep -Milliseconds 500
            (Get-VirtMachine wi).State | Should -Be 'Running'
            Receive-VirtConsole -Name wi | Should -BeNullOrEmpty
        }
        finally { Stop-VirtMachine -Name wi -TurnOff }
    }
}
