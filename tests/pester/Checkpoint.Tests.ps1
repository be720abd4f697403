BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:CountingDefinition = Join-Path $RepoRoot 'machine-defs/counting-emulated.js'
    $script:CountingImage = Join-Path $RepoRoot 'machine-defs/guests/counting.bin'
    $script:SkipReason = Get-HelloSkipReason
    if (-not $SkipReason -and -not (Test-Path $CountingImage)) { $script:SkipReason = "$CountingImage is not built (run ./build.ps1 -Task Build)" }

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

    It 'Stop-VirtMachine -TurnOff discards a Saved machine''s state, and its next start boots' {
        Start-VirtMachine counting
        Wait-Count counting 5 | Out-Null
        Checkpoint-VirtMachine counting -CheckpointName cp
        Stop-VirtMachine counting -TurnOff
        Restore-VirtCheckpoint counting -CheckpointName cp
        Stop-VirtMachine counting   # without -TurnOff a Saved machine keeps its state
        (Get-VirtMachine counting).State | Should -Be 'Saved'
        (Stop-VirtMachine counting -TurnOff -PassThru).State | Should -Be 'Stopped'
        Test-Path (Join-Path $env:VIRTSHELL_HOME 'machines/counting/saved') | Should -BeFalse
        $restartAt = (Get-ConsoleText counting).Length
        Start-VirtMachine counting
        Wait-Count counting 3 -From $restartAt | Should -BeLike "0`n1`n2`n*"
        (Get-VirtCheckpoint counting -CheckpointName cp).HasState | Should -BeTrue   # the checkpoint itself is kept
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

Describe 'A checkpoint that cannot be taken' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'a device that cannot save its state is StateNotSupported naming it; nothing is left in checkpoints/ and the machine runs on' {
        $definition = New-TestDefinition -FileName 'scripted.js' -Image $CountingImage `
            -Imports 'machine, uart16550, debugExit, scriptDevice' `
            -Devices "uart16550({ port: 0x3f8, irq: 4, console: true }),`n    debugExit({ port: 0xf4 }),`n    scriptDevice({ ports: [0x510], read() { return 0; }, write() {} }),"
        New-VirtMachine -Definition $definition -Name scripted | Out-Null
        Start-VirtMachine scripted
        Wait-Count scripted 3 | Out-Null
        Checkpoint-VirtMachine scripted -CheckpointName c -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.StateNotSupported,*'
        "$($err[0])" | Should -Match 'the scriptDevice at .*scripted\.js:\d+.* has no saveState\(\)'
        Get-ChildItem -Force (Join-Path $env:VIRTSHELL_HOME 'machines/scripted/checkpoints') | Should -BeNullOrEmpty
        (Get-VirtMachine scripted).State | Should -Be 'Running'
        $at = (Get-ConsoleText scripted).Length
        Wait-Count scripted 3 -From $at | Out-Null   # resumed after the failed save
    }
}

Describe 'Export-VirtMachine and Import-VirtMachine' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
        New-VirtMachine -Definition $CountingDefinition | Out-Null
        $script:export = Join-Path $TestDrive "counting-$([guid]::NewGuid().ToString('N')).vsx"
    }

    It 'a running counting guest exported and imported under a new name starts Saved and continues from the export''s count' {
        Start-VirtMachine counting
        Wait-Count counting 20 | Out-Null
        Suspend-VirtMachine counting
        $atExport = Get-ConsoleText counting
        Export-VirtMachine counting -Path $export -PassThru | ForEach-Object State | Should -Be 'Paused'
        Resume-VirtMachine counting
        Wait-Count counting 10 -From $atExport.Length | Out-Null   # the original goes on

        $copy = Import-VirtMachine -Path $export -Name copy
        $copy.Name | Should -Be 'copy'
        $copy.State | Should -Be 'Saved'
        # The copy's definition and image are its own, in its folder.
        $copy.Spec.DefinitionPath | Should -BeLike (Join-Path $env:VIRTSHELL_HOME 'machines/copy/definition/*')
        $copy.Spec.Boot.Image | Should -BeLike (Join-Path $env:VIRTSHELL_HOME 'machines/copy/definition/*')
        Start-VirtMachine copy
        $after = Wait-Count copy 20
        Stop-VirtMachine copy, counting -TurnOff

        $counts = Get-Counts ($atExport + $after)
        for ($i = 0; $i -lt $counts.Count; $i++) { $counts[$i] | Should -Be $i }
        $counts.Count | Should -BeGreaterThan 40
    }

    It 'a stopped machine is exported at rest and imported Created under its own name' {
        Export-VirtMachine counting -Path $export
        Remove-VirtMachine counting -Confirm:$false
        $imported = Get-Item $export | Import-VirtMachine
        $imported.Name | Should -Be 'counting'
        $imported.State | Should -Be 'Created'
        Start-VirtMachine counting
        (Wait-Count counting 3) | Should -BeLike "0`n1`n2`n*"   # it boots
    }

    It 'Export-VirtMachine -WhatIf writes nothing, and an existing file is refused and left as it was' {
        Export-VirtMachine counting -Path $export -WhatIf
        Test-Path $export | Should -BeFalse
        'keep me' | Set-Content $export
        Export-VirtMachine counting -Path $export -ErrorVariable err -ErrorAction SilentlyContinue
        "$($err[0])" | Should -Match 'exists already'
        Get-Content $export | Should -Be 'keep me'
        Get-ChildItem -Force (Join-Path $env:VIRTSHELL_HOME 'machines/counting') -Filter '.export-*' | Should -BeNullOrEmpty
    }

    It 'a <Damage> export is ExportInvalid naming the file, and no machine appears' -TestCases @(
        @{ Damage = 'foreign'; Expect = 'not a VirtShell export' }
        @{ Damage = 'truncated'; Expect = 'truncated' }
        @{ Damage = 'corrupt'; Expect = 'corrupt' }
        @{ Damage = 'missing'; Expect = 'no such file' }
    ) {
        Start-VirtMachine counting
        Export-VirtMachine counting -Path $export
        Stop-VirtMachine counting -TurnOff
        $bytes = [IO.File]::ReadAllBytes($export)
        switch ($Damage) {
            'foreign' { [IO.File]::WriteAllBytes($export, [byte[]](1..255) * 40) }
            'truncated' { [IO.File]::WriteAllBytes($export, $bytes[0..($bytes.Length - 3000)]) }
            'corrupt' {
                # A byte inside the saved state's data, past the tar headers of the entries before it.
                $at = $bytes.Length - 2048
                $bytes[$at] = $bytes[$at] -bxor 0xff
                [IO.File]::WriteAllBytes($export, $bytes)
            }
            'missing' { Remove-Item $export }
        }
        $before = Get-MachineFolderEntries

        Import-VirtMachine -Path $export -Name copy -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.ExportInvalid,*'
        "$($err[0])" | Should -Match ([regex]::Escape($export))
        "$($err[0])" | Should -Match $Expect
        Get-MachineFolderEntries | Should -Be $before
        Get-VirtMachine copy -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'an import under a taken name is MachineExists, and the machine of that name is untouched' {
        Export-VirtMachine counting -Path $export
        $before = Get-FolderSnapshot counting
        Import-VirtMachine -Path $export -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineExists,*'
        Get-FolderSnapshot counting | Should -Be $before
        Get-MachineFolderEntries | Should -Be @('counting')
    }
}

Describe 'Checkpoints of containers' {
    BeforeAll {
        $model = Get-VirtModel -Name container
        $script:ContainerSkip = if (-not $model.Available) { "model 'container' is not available here: $($model.Reason)" }
    }
    BeforeEach {
        if ($ContainerSkip) { Set-ItResult -Skipped -Because $ContainerSkip }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'a running container is checkpointed by runc and CRIU and goes on, or the error says why this host cannot' {
        $definition = New-TestDefinition -FileName 'box.js' -Text @"
import { machine } from 'virtshell';
export default machine({
  name: 'box', model: 'container', memory: '64M',
  container: { rootfs: { busybox: true }, process: { args: ['/bin/sh', '-c', 'echo ready; while true; do sleep 1; done'] }, stopTimeout: 2 },
});
"@
        New-VirtMachine -Definition $definition | Out-Null
        Start-VirtMachine box
        Receive-VirtConsole box -Wait -Pattern 'ready' -Timeout 20 | Out-Null
        $checkpoint = Checkpoint-VirtMachine box -CheckpointName c -PassThru -ErrorVariable err -ErrorAction SilentlyContinue
        if ($err) {
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.CheckpointInvalid,*'
            "$($err[0])" | Should -Match "container 'box' cannot be checkpointed here: \S"
            Get-ChildItem -Force (Join-Path $env:VIRTSHELL_HOME 'machines/box/checkpoints') -ErrorAction Ignore | Should -BeNullOrEmpty
        }
        else {
            $checkpoint.HasState | Should -BeTrue
            $checkpoint.StateFile | Should -Be 'container'
        }
        (Get-VirtMachine box).State | Should -Be 'Running'
        Stop-VirtMachine box -TurnOff
    }
}

Describe 'Move-VirtMachine' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
        New-VirtMachine -Definition $CountingDefinition | Out-Null
        Start-VirtMachine counting
    }

    It 'moves to hardware and back where KVM is, and elsewhere refuses naming why while the machine runs on' {
        $hardware = Get-VirtModel hardware
        if ($hardware.Available) {
            $moved = Move-VirtMachine counting -Model hardware -PassThru -Verbose 4>&1
            ($moved | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message -join "`n" | Should -Match 'paused [\d.]+ ms'
            $machine = Get-VirtMachine counting
            $machine.Model | Should -Be 'hardware'
            $machine.State | Should -Be 'Running'
            Move-VirtMachine counting -Model emulated
            (Get-VirtMachine counting).Model | Should -Be 'emulated'
            Receive-VirtConsole counting -Wait -Pattern '^\d+$' -Timeout 60 | Out-Null
            (Receive-VirtConsole counting -FromStart) -join "`n" | Should -Not -Match 'FAIL'
        }
        else {
            Move-VirtMachine counting -Model hardware -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
            "$($err[0])" | Should -Match ([regex]::Escape("model 'hardware' is not available here: $($hardware.Reason)"))
            $machine = Get-VirtMachine counting
            $machine.State | Should -Be 'Running'
            $machine.Model | Should -Be 'emulated'
        }
    }

    It 'refuses the model the machine uses and a model that does not exist' {
        Move-VirtMachine counting -Model emulated -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidArgument,*'
        "$($err[0])" | Should -Match "uses model 'emulated' already"
        Move-VirtMachine counting -Model nosuch -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.DefinitionInvalid,*'
        "$($err[0])" | Should -Match "unknown model 'nosuch'"
        Move-VirtMachine counting -Model hardware -WhatIf
        (Get-VirtMachine counting).State | Should -Be 'Running'
    }
}
