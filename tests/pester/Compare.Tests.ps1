# Compare-VirtModel on the models available here, in short runs (-TargetSeconds 0.05): one row per model with the
# seed table's columns, a reason for each model that cannot run, every figure for each that can, the orderings that
# hold whatever the host's load, and the chart drawn through ScottPlot and the native libSkiaSharp in the module.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest

    $script:Models = @(Get-VirtModel)
    $script:Chart = Join-Path $TestDrive 'compare.png'
    $script:Rows = @(Compare-VirtModel -TargetSeconds 0.05 -Chart $Chart)
    $script:ByModel = @{}
    foreach ($row in $Rows) { $ByModel[$row.Model] = $row }
    $script:Measures = 'StartSeconds', 'CpuMips', 'IoRoundTripMicroseconds', 'BulkIoMBps', 'MemoryOverheadMiB'

    # Why the ordering of two models cannot be checked here, or $null.
    function Get-OrderingSkipReason([string[]] $Names) {
        foreach ($name in $Names) {
            $model = $Models | Where-Object Name -EQ $name
            if (-not $model.Available) { return "model '$name' is not available here: $($model.Reason)" }
        }
        $null
    }
}

AfterAll { Complete-VirtShellTest }

Describe 'Compare-VirtModel' {
    It 'returns one row per model, in the order Get-VirtModel lists them' {
        $Rows.Model | Should -Be $Models.Name
    }

    It 'gives every row the seed table''s columns and the measured ones' {
        foreach ($row in $Rows) {
            foreach ($column in 'Technique', 'HowItWorks', 'TypicalUse', 'GuestChanges', 'Examples') {
                $row.$column | Should -Not -BeNullOrEmpty -Because "$($row.Model) needs its $column"
            }
            foreach ($column in $Measures + 'GuestAdapted', 'Note', 'Available', 'Reason') {
                $row.PSObject.Properties.Name | Should -Contain $column
            }
        }
        $ByModel['emulated'].Technique | Should -Be 'hardware emulation'
        $ByModel['container'].Examples | Should -Be 'OpenVZ, Jails'
    }

    It 'says why a model is not available, and measures nothing on it' {
        $unavailable = @($Models | Where-Object { -not $_.Available })
        if (-not $unavailable) { Set-ItResult -Skipped -Because 'every model is available here'; return }
        foreach ($model in $unavailable) {
            $row = $ByModel[$model.Name]
            $row.Available | Should -BeFalse
            $row.Reason | Should -Be $model.Reason
            foreach ($column in $Measures) { $row.$column | Should -BeNullOrEmpty -Because "$($model.Name) cannot run here" }
        }
    }

    It 'measures every figure on each available model, and says what it ran' {
        foreach ($model in $Models | Where-Object Available) {
            $row = $ByModel[$model.Name]
            $row.Note | Should -Not -Match 'failed' -Because "every measure should run on $($model.Name)"
            foreach ($column in $Measures | Where-Object { $_ -ne 'MemoryOverheadMiB' }) {
                $row.$column | Should -BeGreaterThan 0 -Because "$column of $($model.Name)"
            }
            $row.MemoryOverheadMiB | Should -Not -BeNullOrEmpty
            $row.Note | Should -Match 'CPU: .*ring3-loop'
        }
    }

    It 'says that only the paravirtual guest was adapted' {
        foreach ($row in $Rows | Where-Object Available) {
            $row.GuestAdapted | Should -Be ($row.Model -eq 'paravirtual') -Because "$($row.Model)'s guest"
        }
    }

    It 'runs the ring-3 loop slower on the emulated model than on the hardware model' {
        if ($reason = Get-OrderingSkipReason 'emulated', 'hardware') { Set-ItResult -Skipped -Because $reason; return }
        $ByModel['emulated'].CpuMips | Should -BeLessThan $ByModel['hardware'].CpuMips
    }

    It 'runs the ring-3 loop slower on the emulated model than natively in a container' {
        if ($reason = Get-OrderingSkipReason 'emulated', 'container') { Set-ItResult -Skipped -Because $reason; return }
        $ByModel['emulated'].CpuMips | Should -BeLessThan $ByModel['container'].CpuMips
    }

    It 'draws the chart as a PNG through the native libSkiaSharp the module carries' {
        $Chart | Should -Exist
        $bytes = [IO.File]::ReadAllBytes($Chart)
        $bytes[0..3] | Should -Be 0x89, 0x50, 0x4E, 0x47
        $bytes.Length | Should -BeGreaterThan 20KB
    }

    It 'leaves no machine and no work folder behind' {
        Get-VirtMachine | Should -BeNullOrEmpty
        Join-Path $env:VIRTSHELL_HOME 'compare-work' | Should -Not -Exist
    }

    It 'refuses a chart that is neither .png nor .svg before running anything' {
        { Compare-VirtModel -Chart (Join-Path $TestDrive 'compare.gif') -ErrorAction Stop } | Should -Throw '*png or .svg*'
        Join-Path $TestDrive 'compare.gif' | Should -Not -Exist
    }

    It 'names a guests folder that does not exist' {
        $missing = Join-Path $TestDrive 'no-such-guests'
        { Compare-VirtModel -Name emulated -GuestPath $missing -ErrorAction Stop } | Should -Throw "*$missing*does not exist*"
    }
}
