# A virtio-blk guest checkpointed in the middle of writing, on the emulated PC (virtio without KVM): the guest kit
# (machine-defs/guests/kit) in its 'rounds' mode writes a pattern a sector per request, round after round, and checks
# before each round that the disk holds the last one and after it that it reads back. Round 2 stops half-way
# through its writes for a while ('hold'); the machine is checkpointed there, runs on (overwriting the disk with
# later rounds), is turned off and restored: the restored guest must go on from its checkpoint and its own checks
# must pass, which they do only if the disk came back as it was at the checkpoint and the queue's positions agree.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest

    $script:KitImage = Join-Path $RepoRoot 'machine-defs/guests/kit/kit.bin'
    $script:Skip = Get-HelloSkipReason
    if (-not $Skip -and -not (Test-Path $KitImage)) { $script:Skip = "$KitImage is not built (run ./build.ps1 -Task Build)" }
    $script:FirstSector = 16
    $script:Sectors = 64
    $script:Seed = 3
    $script:Rounds = 8
    $script:HoldRound = 2

    # kit-paravirtual.js on the emulated model with the 'rounds' settings and a fresh 1 MiB disk of zeros, in a
    # folder of its own; returns the definition's path.
    function New-RoundsFolder {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory (Join-Path $dir 'guests/kit') | Out-Null
        Copy-Item $KitImage (Join-Path $dir 'guests/kit/kit.bin')
        Set-Content (Join-Path $dir 'guests/kit/rounds.cfg') "mode=rounds sector=$FirstSector count=$Sectors seed=$Seed rounds=$Rounds hold=$HoldRound holdms=3000 status=42`n" -NoNewline
        $disk = [IO.File]::Create((Join-Path $dir 'guests/kit/disk.img'))
        try { $disk.SetLength(1MB) } finally { $disk.Dispose() }
        $text = Get-Content (Join-Path $RepoRoot 'machine-defs/kit-paravirtual.js') -Raw
        $replace = [ordered]@{ "model: 'paravirtual'" = "model: 'emulated'"; 'selftest.cfg' = 'rounds.cfg' }
        foreach ($from in $replace.Keys) {
            $text.Contains($from) | Should -BeTrue -Because "kit-paravirtual.js should still contain '$from'"
            $text = $text.Replace($from, $replace[$from])
        }
        $path = Join-Path $dir 'rounds.js'
        Set-Content $path $text -NoNewline
        $path
    }

    # The rounds the guest reported verified in $Text, in order.
    function Get-VerifiedRounds([string] $Text) { @([regex]::Matches($Text, 'kit: round (\d+) verified') | ForEach-Object { [int]$_.Groups[1].Value }) }

    # Waits until the console has a match of $Pattern.
    function Wait-Console([string] $Name, [string] $Pattern) {
        $deadline = [DateTime]::UtcNow.AddSeconds(120)
        while ([DateTime]::UtcNow -lt $deadline) {
            if ((Get-ConsoleText $Name) -match $Pattern) { return }
            Start-Sleep -Milliseconds 50
        }
        throw "machine '$Name' did not print '$Pattern'; its console: $(Get-ConsoleText $Name)"
    }

    # Which seed's pattern (main.c, pattern_byte) a sector of the disk holds: the seed, 'zero', or $null for neither.
    function Get-SectorSeed([byte[]] $Disk, [int] $Sector) {
        $at = $Sector * 512
        if ([Linq.Enumerable]::All([ArraySegment[byte]]::new($Disk, $at, 512), [Func[byte, bool]] { $args[0] -eq 0 })) { return 'zero' }
        $seed = ($Disk[$at] - $at * 31 - $Sector * 7) -band 0xFF
        for ($i = 0; $i -lt 512; $i++) {
            if ($Disk[$at + $i] -ne (($seed + ($at + $i) * 31 + $Sector * 7) -band 0xFF)) { return $null }
        }
        $seed
    }
}
AfterAll { Complete-VirtShellTest }

Describe 'a virtio-blk guest checkpointed in the middle of writing' {
    BeforeEach {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'comes back with its disk and queue in step: the restored guest goes on and its own read-back check passes' {
        New-VirtMachine -Definition (New-RoundsFolder) -Name rounds | Out-Null
        Start-VirtMachine rounds
        Wait-Console rounds "kit: round ${HoldRound}: holding after $($Sectors / 2) of $Sectors sectors written"
        $checkpoint = Checkpoint-VirtMachine rounds -CheckpointName mid -PassThru
        $checkpoint.HasState | Should -BeTrue
        $checkpoint.Disks | Should -HaveCount 1
        $captured = $checkpoint.Disks[0]
        $captured.Image | Should -BeLike '*/guests/kit/disk.img'
        $captured.Method | Should -BeIn 'Reflink', 'Copy'

        # The captured disk is the round half written over the last one, and nothing else written.
        $disk = [IO.File]::ReadAllBytes((Join-Path $checkpoint.Path $captured.File))
        $seeds = @(for ($s = 0; $s -lt $Sectors; $s++) { Get-SectorSeed $disk ($FirstSector + $s) })
        for ($s = 0; $s -lt $Sectors; $s++) {
            $seeds[$s] | Should -Be ($Seed + $HoldRound - [int]($s -ge $Sectors / 2)) -Because "sector $($FirstSector + $s) of the checkpoint's disk"
        }
        [Linq.Enumerable]::All([ArraySegment[byte]]::new($disk, ($FirstSector + $Sectors) * 512, $disk.Length - ($FirstSector + $Sectors) * 512), [Func[byte, bool]] { $args[0] -eq 0 }) | Should -BeTrue

        # The machine runs on and writes later rounds over the disk; then it is turned off and restored.
        Wait-Console rounds "kit: round $($HoldRound + 2) verified"
        Stop-VirtMachine rounds -TurnOff
        (Restore-VirtCheckpoint rounds -CheckpointName mid -PassThru).State | Should -Be 'Saved'
        $restartAt = (Get-ConsoleText rounds).Length
        Start-VirtMachine rounds
        $vm = Wait-VirtMachine rounds -For Stopped -Timeout 300 -PassThru

        $after = (Get-ConsoleText rounds).Substring($restartAt)
        $vm.LastExit.Reason | Should -Be 'GuestPowerOff' -Because "the restored guest's console: $after"
        $vm.LastExit.Status | Should -Be 42 -Because "the restored guest's console: $after"
        $after | Should -Not -Match 'Hello from the VirtShell guest kit' -Because 'it went on, it did not boot again'
        $after | Should -Match "kit: $Rounds rounds of $Sectors sectors written and read back: check passed"
        # It goes on with the round it was writing, to the last.
        Get-VerifiedRounds $after | Should -Be @($HoldRound..($Rounds - 1))
    }
}
