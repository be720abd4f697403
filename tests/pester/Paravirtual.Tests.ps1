# The guest kit (machine-defs/guests/kit) on the paravirtual model, driven through the cmdlets: machine-defs/
# kit-paravirtual.js unchanged in a folder of its own with a fresh disk image, so the test can read back from the
# image file, byte for byte, what the guest's own virtio-blk driver wrote. Then the bad inputs, as a user meets them.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest

    $script:KitImage = Join-Path $RepoRoot 'machine-defs/guests/kit/kit.bin'
    $model = Get-VirtModel -Name paravirtual
    $script:Skip = if (-not $model.Available) { "model 'paravirtual' is not available here: $($model.Reason)" }
    elseif (-not (Test-Path $KitImage)) { "$KitImage is not built (run ./build.ps1 -Task Build)" }
    $script:DiskBytes = 1MB

    # A folder laid out like machine-defs/: the definition (with -Replace applied to its text), the kit, its settings
    # blob and a 1 MiB disk of zeros. Returns the definition's path; the disk is guests/kit/disk.img beside it.
    function New-KitFolder([string] $Config = "mode=selftest`n", [string] $DefinitionName = 'kit-paravirtual.js', [hashtable] $Replace = @{}) {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory (Join-Path $dir 'guests/kit') | Out-Null
        Copy-Item $KitImage (Join-Path $dir 'guests/kit/kit.bin')
        Set-Content (Join-Path $dir 'guests/kit/selftest.cfg') $Config -NoNewline
        $disk = [IO.File]::Create((Join-Path $dir 'guests/kit/disk.img'))
        try { $disk.SetLength($DiskBytes) } finally { $disk.Dispose() }
        $text = Get-Content (Join-Path $RepoRoot 'machine-defs/kit-paravirtual.js') -Raw
        foreach ($from in $Replace.Keys) {
            $text.Contains($from) | Should -BeTrue -Because "kit-paravirtual.js should still contain '$from'"
            $text = $text.Replace($from, $Replace[$from])
        }
        $path = Join-Path $dir $DefinitionName
        Set-Content $path $text -NoNewline
        $path
    }

    function Get-KitDisk([string] $Definition) { Join-Path (Split-Path $Definition) 'guests/kit/disk.img' }

    # Fails naming the first byte that differs unless the disk holds the kit's pattern (main.c, pattern_byte) on
    # exactly these sectors and zeros everywhere else.
    function Assert-KitDisk([string] $Disk, [int] $FirstSector, [int] $Sectors, [int] $Seed) {
        $actual = [IO.File]::ReadAllBytes($Disk)
        $actual.Length | Should -Be $DiskBytes
        $expected = [byte[]]::new($DiskBytes)
        for ($offset = $FirstSector * 512; $offset -lt ($FirstSector + $Sectors) * 512; $offset++) {
            $expected[$offset] = ($Seed + $offset * 31 + ($offset -shr 9) * 7) -band 0xFF
        }
        if (-not [Linq.Enumerable]::SequenceEqual($actual, $expected)) {
            $at = 0
            while ($actual[$at] -eq $expected[$at]) { $at++ }
            throw ('disk byte {0} (sector {1}) is 0x{2:x2}, expected 0x{3:x2}' -f $at, [math]::Floor($at / 512), $actual[$at], $expected[$at])
        }
    }

    # Starts a machine of the definition and waits for its power-off; returns the machine.
    function Invoke-Kit([string] $Definition, [string] $Name) {
        New-VirtMachine -Definition $Definition -Name $Name | Start-VirtMachine -PassThru | Wait-VirtMachine -For Stopped -Timeout 30 -PassThru
    }

    function Get-KitConsole([string] $Name) { Get-Content (Join-Path $env:VIRTSHELL_HOME "machines/$Name/console.log") -Raw }
}
AfterAll { Complete-VirtShellTest }

Describe 'the guest kit on the paravirtual model' {
    BeforeEach { if ($Skip) { Set-ItResult -Skipped -Because $Skip } }

    It 'greets on virtio-console, writes its pattern where its blob says and powers off with status 42' {
        $definition = New-KitFolder -Config "mode=selftest sector=100 count=3 seed=7 status=42`n"
        $vm = Invoke-Kit $definition 'kit'
        $vm.State | Should -Be 'Stopped'
        $vm.LastExit.Reason | Should -Be 'GuestPowerOff'
        $vm.LastExit.Status | Should -Be 42
        $console = Get-KitConsole 'kit'
        $console | Should -Match 'Hello from the VirtShell guest kit'
        $console | Should -Match 'read back 3 sectors from sector 100: pattern verified'
        Get-Content (Join-Path $env:VIRTSHELL_HOME 'machines/kit/machine.log') -Raw | Should -Match 'hypercalls: guest: kit: disk pattern verified'
        Assert-KitDisk (Get-KitDisk $definition) -FirstSector 100 -Sectors 3 -Seed 7
    }

    It 'prints the error code it gets for a blob the definition does not have' {
        $definition = New-KitFolder -Replace @{ "'kit-config':" = "'something-else':" }
        $vm = Invoke-Kit $definition 'kit-noblob'
        Get-KitConsole 'kit-noblob' | Should -Match "blob 'kit-config': error -5 \(NO_SUCH_BLOB\)"
        $vm.LastExit.Status | Should -Be 42 -Because 'the kit goes on with its defaults'
        Assert-KitDisk (Get-KitDisk $definition) -FirstSector 8 -Sectors 4 -Seed 90
    }

    It 'gets IOERR from a read-only disk, and the image stays as it was' {
        $definition = New-KitFolder -Replace @{ 'irq: 6 })' = 'irq: 6, readOnly: true })' }
        $vm = Invoke-Kit $definition 'kit-ro'
        Get-KitConsole 'kit-ro' | Should -Match 'write of sector 8 failed: status 1 \(IOERR\)'
        $vm.LastExit.Status | Should -Be 12
        Assert-KitDisk (Get-KitDisk $definition) -FirstSector 0 -Sectors 0 -Seed 0
    }

    It 'cannot start on an image another running machine uses, and names the image' {
        $definition = New-KitFolder -Config "mode=idle`n"
        $disk = Get-KitDisk $definition
        $idle = New-VirtMachine -Definition $definition -Name 'kit-idle' | Start-VirtMachine -PassThru
        try {
            Receive-VirtConsole -Name 'kit-idle' -Wait -Pattern 'idle until turned off' -Timeout 30 | Select-Object -Last 1 | Should -Be 'kit: idle until turned off'
            New-VirtMachine -Definition $definition -Name 'kit-second' | Out-Null
            Start-VirtMachine -Name 'kit-second' -ErrorVariable err -ErrorAction SilentlyContinue
            $err | Should -HaveCount 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.DefinitionInvalid,*'
            $err[0].Exception.Message | Should -BeLike "*disk image '$disk' is in use by another machine*"
            (Get-VirtMachine -Name 'kit-second').State | Should -Be 'Created'
        }
        finally { $idle | Stop-VirtMachine -TurnOff }
        Assert-KitDisk $disk -FirstSector 0 -Sectors 0 -Seed 0
    }

    It 'names a missing image when the machine is made, and when it starts' {
        $definition = New-KitFolder
        $disk = Get-KitDisk $definition
        New-VirtMachine -Definition $definition -Name 'kit-missing' | Out-Null
        Remove-Item $disk
        { Start-VirtMachine -Name 'kit-missing' -ErrorAction Stop } | Should -Throw "*'image' $disk does not exist*"
        New-VirtMachine -Definition $definition -Name 'kit-missing-2' -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err[0].Exception.Message | Should -BeLike "*'image' $disk does not exist*"
    }
}
