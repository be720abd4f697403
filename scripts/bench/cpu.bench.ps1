# Guest MIPS of the emulated model on a CPU-bound loop, side by side with QEMU TCG and Bochs on the same image.
# Each subject runs the loop at two lengths; the difference cancels start-up (BIOS, process, module) out.
# cpu-real and cpu-protected run one small loop (guests/loop.asm); cpu-paged runs code spread over 128 pages mapped
# at 0xC0000000 with paging on (guests/paged.asm), as a kernel's is, so a code cache whose lookups depend on where
# code is mapped shows there. VirtShell runs under both tiers (cpu.tier 'interpreter' and 'translator'); the
# translator's cost per compiled guest instruction and the IL it keeps come from the conformance runner's in-process
# loop (VirtShell.Conformance --mips), which can read the CPU's translation counters.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [double] $TargetSeconds = 3,
    # The loops to run (all three by default); the in-process rows come only with all three.
    [ValidateSet('real', 'protected', 'paged')] [string[]] $Modes = @('real', 'protected', 'paged')
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
. (Join-Path $PSScriptRoot '../common.ps1')

# Per mode: the guest, its defines, instructions per iteration, the short run's iterations, the step lengths round to.
$guests = @{
    real      = @{ Source = 'loop.asm'; Defines = @(); PerIteration = 10; Short = 1000000; Step = 50000 }
    protected = @{ Source = 'loop.asm'; Defines = @('-DPROTECTED'); PerIteration = 10; Short = 1000000; Step = 50000 }
    paged     = @{ Source = 'paged.asm'; Defines = @(); PerIteration = 128 * 10 + 3; Short = 8000; Step = 1000 }
}
$work = Enter-BenchWork $OutDirectory 'cpu' $ModulePath

function New-LoopImage([string] $Mode, [long] $Iterations) {
    $guest = $guests[$Mode]
    $image = Join-Path $work "$([IO.Path]::GetFileNameWithoutExtension($guest.Source))-$Mode-$Iterations.img"
    $defines = @("-DITERATIONS=$Iterations") + $guest.Defines
    Invoke-Native nasm -f bin @defines -o $image (Join-Path $PSScriptRoot "guests/$($guest.Source)")
    # Bochs boots it as a 1.44 MB floppy; the extra zeroes are harmless to the others.
    $stream = [IO.File]::OpenWrite($image); $stream.SetLength(1474560); $stream.Dispose()
    $image
}

# Each runner boots an image to its power-off and returns the wall-clock seconds.
$runners = [ordered]@{
    'VirtShell emulated' = { param($image) Invoke-VirtShellRun $work $image 'emulated' -TimeoutSeconds 600 -Tier 'interpreter' }
    'VirtShell translator' = { param($image) Invoke-VirtShellRun $work $image 'emulated' -TimeoutSeconds 600 -Tier 'translator' }
    'QEMU TCG' = {
        param($image)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        & qemu-system-i386 -display none -serial none -monitor none -device 'isa-debug-exit,iobase=0xf4,iosize=1' `
            -drive "format=raw,file=$image,if=floppy" -boot a
        $watch.Elapsed.TotalSeconds
    }
    'Bochs' = {
        param($image)
        $rc = Join-Path $work 'bochsrc'
        @"
megs: 16
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
floppya: 1_44=$image, status=inserted
boot: floppy
display_library: rfb, options="timeout=0"
log: /dev/null
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
"@ | Set-Content $rc
        $watch = [Diagnostics.Stopwatch]::StartNew()
        # Without the dummy sound drivers Debian's Bochs 2.7 aborts on a host with no sound card, loading ALSA.
        # Debian's Bochs has its debugger built in and stops at a prompt: 'c' continues.
        'c' | & bochs -q -f $rc *> $null
        $watch.Elapsed.TotalSeconds
    }
}

$rows = foreach ($mode in $Modes) {
    $guest = $guests[$mode]
    $mips = [ordered]@{}
    foreach ($subject in $runners.Keys) {
        $available = switch ($subject) { 'QEMU TCG' { [bool](Get-Command qemu-system-i386 -ErrorAction Ignore) } 'Bochs' { [bool](Get-Command bochs -ErrorAction Ignore) } default { $true } }
        if (-not $available) { New-BenchRow "cpu-$mode" $subject 0 'MIPS' 'not installed (build.ps1 -Task Bootstrap)'; continue }
        try {
            $short = $guest.Short
            $t1 = & $runners[$subject] (New-LoopImage $mode $short)
            # Grow the long run until it outlasts the short one by about TargetSeconds, so start-up noise is small
            # next to the difference. The loop counters allow up to 2e9 iterations.
            $long = $short * 4
            while ($true) {
                $t2 = & $runners[$subject] (New-LoopImage $mode $long)
                $delta = $t2 - $t1
                if ($delta -ge $TargetSeconds * 0.7 -or $long -ge 2e9) { break }
                $long = [long][math]::Min(2e9, $long * [math]::Max(2, $TargetSeconds / [math]::Max($delta, 0.05)))
                $long -= $long % $guest.Step
            }
            $value = ($long - $short) * $guest.PerIteration / [math]::Max($t2 - $t1, 0.001) / 1e6
            $mips[$subject] = $value
            New-BenchRow "cpu-$mode" $subject $value 'MIPS' ("{0:N0} vs {1:N0} iterations: {2:N2} s vs {3:N2} s" -f $short, $long, $t1, $t2)
        }
        catch {
            New-BenchRow "cpu-$mode" $subject 0 'MIPS' "failed: $($_.Exception.Message -replace '\s+', ' ')"
        }
    }
    foreach ($tier in 'VirtShell emulated', 'VirtShell translator') {
        foreach ($anchor in 'QEMU TCG', 'Bochs') {
            if ($mips[$tier] -and $mips[$anchor]) { New-BenchRow "cpu-$mode" "$tier / $anchor" ($mips[$tier] / $mips[$anchor]) 'ratio' }
        }
    }
}

# Translation cost and code size, from the in-process loop of both tiers (built by build.ps1 -Task Build).
$conformance = Join-Path $PSScriptRoot '../../tests/VirtShell.Conformance/bin/Release/net10.0/linux-x64/VirtShell.Conformance.dll'
$rows = @($rows)
if ($Modes.Count -eq 3 -and (Test-Path $conformance)) {
    foreach ($line in & dotnet $conformance --mips) {
        if ($line -match '^(?<loop>.+?) \[(?<tier>\w+)\]: .*?, (?<mips>[\d.]+) MIPS wall clock.*?(; (?<blocks>\d+) blocks, (?<count>\d+) guest instructions compiled \((?<us>[\d.]+) µs each\), (?<il>\d+) bytes of IL)?$') {
            $rows += New-BenchRow "cpu-inprocess" "$($Matches.loop) [$($Matches.tier)]" ([double]$Matches.mips) 'MIPS'
            if ($Matches.us) {
                $rows += New-BenchRow "cpu-translation" "$($Matches.loop): cost per compiled guest instruction" ([double]$Matches.us) 'µs' "$($Matches.blocks) blocks, $($Matches.count) instructions"
                $rows += New-BenchRow "cpu-translation" "$($Matches.loop): IL kept" ([double]$Matches.il) 'bytes' "$($Matches.blocks) blocks"
            }
        }
    }
}
elseif ($Modes.Count -eq 3) { $rows += New-BenchRow 'cpu-translation' 'VirtShell translator' 0 'µs' "not built: $conformance" }
Save-BenchRows (Join-Path $OutDirectory 'cpu.json') $rows
