BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:CountingDefinition = Join-Path $RepoRoot 'machine-defs/counting-emulated.js'
    $script:CountingImage = Join-Path $RepoRoot 'machine-defs/guests/counting.bin'
    $script:SkipReason = Get-HelloSkipReason
    if (-not $SkipReason -and -not (Test-Path $CountingImage)) { $script:SkipReason = "$CountingImage is not built (run ./build.ps1 -Task Build)" }

    function Get-ConsoleText([string] $Name) {
        $log = Join-Path $env:VIRTSHELL_HOME "machines/$Name/console.log"
        if (Test-Path $log) { [IO.File]::ReadAllText($log) } else { '' }
    }

    # The complete lines of the counting guest's console as numbers.
    function Get-Counts([string] $Text) {
        $lines = $Text -split "`n"
        @($lines[0..($lines.Count - 2)] | Where-Object { $_ -ne '' } | ForEach-Object { [int]$_ })
    }

    # Waits until the guest's console (from $From on) has counted $Lines more lines.
    function Wait-Count([string] $Name, [int] $Lines, [int] $From = 0) {
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ([DateTime]::UtcNow -lt $deadline) {
            $text = (Get-ConsoleText $Name).Substring($From)
            if ((Get-Counts $text).Count -ge $Lines) { return $text }
            Start-Sleep -Milliseconds 50
        }
        throw "machine '$Name' did not count $Lines lines; its console: $(Get-ConsoleText $Name)"
    }

    # Every file under a machine's folder with its size and last write, to show that nothing changed.
    function Get-FolderSnapshot([string] $Name) {
        Get-ChildItem -Recurse -Force -File (Join-Path $env:VIRTSHELL_HOME "machines/$Name") |
            Where-Object Name -notin 'host.log', 'host.lock' |
            ForEach-Object { "$($_.FullName) $($_.Length) $($_.LastWriteTimeUtc.Ticks)" }
    }
}
AfterAll { Complete-VirtShellTest }

Describe 'Checkpoint-VirtMachine and Restore-VirtCheckpoint' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
        New-VirtMachine -Definition $CountingDefinition | Out-Null
    }

    It 'a counting guest checkpointed while running (from another process) goes on, and after a restore continues from the checkpoint''s count' {
        Start-VirtMachine counting
        Wait-Count counting 20 | Out-Null
        Suspend-VirtMachine counting
        $atCheckpoint = Get-ConsoleText counting
        # Another process takes the checkpoint: the host process does the work, whoever asks.
        Invoke-ChildPwsh "Checkpoint-VirtMachine counting -CheckpointName first" | Should -BeNullOrEmpty
        (Get-VirtMachine counting).State | Should -Be 'Paused'   # a paused machine stays paused
        Resume-VirtMachine counting
        # It goes on after the checkpoint.
        Wait-Count counting 20 -From $atCheckpoint.Length | Out-Null
        Stop-VirtMachine counting -TurnOff

        (Restore-VirtCheckpoint counting -CheckpointName first -PassThru).State | Should -Be 'Saved'
        $restartAt = (Get-ConsoleText counting).Length
        Start-VirtMachine counting
        $after = Wait-Count counting 20 -From $restartAt
        Stop-VirtMachine counting -TurnOff

        # The console at the checkpoint, then what the restored machine printed, is one count without a gap or a
        # repeat (a line the pause cut goes on in the restored run).
        $counts = Get-Counts ($atCheckpoint + $after)
        $counts.Count | Should -BeGreaterThan 40
        for ($i = 0; $i -lt $counts.Count; $i++) { $counts[$i] | Should -Be $i }
        (Get-VirtMachine counting).State | Should -Be 'Stopped'
        # The resume point is used up: the next start boots afresh.
        Test-Path (Join-Path $env:VIRTSHELL_HOME 'machines/counting/saved') | Should -BeFalse
    }

    It 'Get-VirtCheckpoint lists what was taken; default names are unique; Remove-VirtCheckpoint takes them from the pipeline' {
        Start-VirtMachine counting
        $one = Checkpoint-VirtMachine counting -PassThru
        $two = Checkpoint-VirtMachine counting -PassThru
        $one.CheckpointName | Should -BeLike 'counting - (*)'
        $two.CheckpointName | Should -Not -Be $one.CheckpointName
        $listed = Get-VirtCheckpoint -Name counting
        $listed.CheckpointName | Should -Be @($one.CheckpointName, $two.CheckpointName)
        $listed[0].MachineName | Should -Be 'counting'
        $listed[0].Model | Should -Be 'emulated'
        $listed[0].HasState | Should -BeTrue
        $listed[0].DiskCapture | Should -Be 'None'
        $listed[0].SizeBytes | Should -BeGreaterThan 0
        $listed[0].TakenWhile | Should -Be 'Running'
        (Get-VirtMachine counting).State | Should -Be 'Running'

        Get-VirtCheckpoint counting | Remove-VirtCheckpoint -WhatIf
        (Get-VirtCheckpoint counting).Count | Should -Be 2
        $removed = Get-VirtCheckpoint counting -CheckpointName $one.CheckpointName | Remove-VirtCheckpoint -Confirm:$false -PassThru
        $removed.CheckpointName | Should -Be $one.CheckpointName
        (Get-VirtCheckpoint counting).CheckpointName | Should -Be $two.CheckpointName
    }

    It 'Checkpoint-VirtMachine -WhatIf takes nothing; a taken name is CheckpointInvalid and leaves the first' {
        Checkpoint-VirtMachine counting -CheckpointName dup -WhatIf
        Get-VirtCheckpoint counting | Should -BeNullOrEmpty
        Checkpoint-VirtMachine counting -CheckpointName dup
        $before = Get-FolderSnapshot counting
        Checkpoint-VirtMachine counting -CheckpointName dup -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.CheckpointInvalid,*'
        "$($err[0])" | Should -Match "'dup' exists already"
        Get-FolderSnapshot counting | Should -Be $before
    }

    It 'restoring over a running machine is InvalidState and changes nothing; -Force turns it off and restores' {
        Start-VirtMachine counting
        Checkpoint-VirtMachine counting -CheckpointName cp
        $before = Get-FolderSnapshot counting | Where-Object { $_ -notmatch 'console.log|machine.json' }
        Restore-VirtCheckpoint counting -CheckpointName cp -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
        "$($err[0])" | Should -Match "machine 'counting' is Running"
        $err[0].TargetObject.Name | Should -Be 'counting'
        (Get-VirtMachine counting).State | Should -Be 'Running'
        Get-FolderSnapshot counting | Where-Object { $_ -notmatch 'console.log|machine.json' } | Should -Be $before

        (Restore-VirtCheckpoint counting -CheckpointName cp -Force -PassThru).State | Should -Be 'Saved'
    }

    It 'a missing checkpoint is CheckpointNotFound naming it, and a missing machine MachineNotFound' {
        Restore-VirtCheckpoint counting -CheckpointName nope -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.CheckpointNotFound,*'
        "$($err[0])" | Should -Match "machine 'counting' has no checkpoint named 'nope'"
        Get-VirtCheckpoint counting -CheckpointName nope -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.CheckpointNotFound,*'
        Remove-VirtCheckpoint counting -CheckpointName nope -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.CheckpointNotFound,*'
        Get-VirtCheckpoint counting -CheckpointName 'no*' | Should -BeNullOrEmpty   # a pattern that matches none is no error
        Checkpoint-VirtMachine ghost -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound,*'
        Checkpoint-VirtMachine counting -CheckpointName '../escape' -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidArgument,*'
        "$($err[0])" | Should -Match 'not a valid checkpoint name'
    }

    It 'a <Damage> checkpoint is CheckpointInvalid naming the file, and nothing changes' -TestCases @(
        @{ Damage = 'truncated'; File = 'state.vshstate'; Expect = 'truncated' }
        @{ Damage = 'corrupt'; File = 'state.vshstate'; Expect = 'corrupt' }
        @{ Damage = 'foreign'; File = 'state.vshstate'; Expect = 'not a VirtShell saved state' }
        @{ Damage = 'foreign'; File = 'checkpoint.json'; Expect = 'not a VirtShell checkpoint record' }
    ) {
        Start-VirtMachine counting
        Checkpoint-VirtMachine counting -CheckpointName damaged
        Stop-VirtMachine counting -TurnOff
        $path = Join-Path $env:VIRTSHELL_HOME "machines/counting/checkpoints/damaged/$File"
        $bytes = [IO.File]::ReadAllBytes($path)
        switch ($Damage) {
            'truncated' { [IO.File]::WriteAllBytes($path, $bytes[0..($bytes.Length / 2)]) }
            'corrupt' { $bytes[$bytes.Length - 100] = $bytes[$bytes.Length - 100] -bxor 0xff; [IO.File]::WriteAllBytes($path, $bytes) }
            'foreign' { if ($File -like '*.json') { '{ "format": "something-else" }' | Set-Content $path } else { [IO.File]::WriteAllBytes($path, [byte[]](1..200)) } }
        }
        $before = Get-FolderSnapshot counting

        Restore-VirtCheckpoint counting -CheckpointName damaged -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.CheckpointInvalid,*'
        "$($err[0])" | Should -Match ([regex]::Escape($File))
        "$($err[0])" | Should -Match $Expect
        (Get-VirtMachine counting).State | Should -Be 'Stopped'
        Get-FolderSnapshot counting | Should -Be $before
    }
}

Describe 'Checkpoints of disks' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'a checkpoint of a stopped machine captures its disk, says how, and its restore puts the disk back' {
        $image = Join-Path $TestDrive 'disk.img'
        [IO.File]::WriteAllBytes($image, [byte[]]::new(64KB))
        $definition = New-TestDefinition -FileName 'disk.js' -Image $CountingImage `
            -Imports 'machine, uart16550, debugExit, ataDisk' `
            -Devices "uart16550({ port: 0x3f8, irq: 4, console: true }),`n    debugExit({ port: 0xf4 }),`n    ataDisk({ image: '$($image -replace '\\', '/')' }),"
        New-VirtMachine -Definition $definition -Name disky | Out-Null
        $checkpoint = Checkpoint-VirtMachine disky -CheckpointName clean -PassThru
        $checkpoint.HasState | Should -BeFalse
        $checkpoint.TakenWhile | Should -Be 'Created'
        $checkpoint.DiskCapture | Should -BeIn 'Reflink', 'Copy'
        $checkpoint.Disks[0].Image | Should -Be $image

        [IO.File]::WriteAllBytes($image, [byte[]]@(7) * 64KB)
        (Restore-VirtCheckpoint disky -CheckpointName clean -PassThru).State | Should -Be 'Created'
        [IO.File]::ReadAllBytes($image) | Where-Object { $_ -ne 0 } | Should -BeNullOrEmpty
    }
}
