# Format views: long texts wrap between words, never inside one.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest

    # The text of one column of a rendered table, its lines joined by single spaces.
    function Get-ColumnText([string] $Table, [string] $Column, [string] $NextColumn) {
        $lines = @($Table -split "`r?`n" | Where-Object { $_.Trim() })
        $header = $lines[0]
        $start = $header.IndexOf($Column)
        $end = if ($NextColumn -and $header.Contains($NextColumn)) { $header.IndexOf($NextColumn) } else { [int]::MaxValue }
        $cells = foreach ($line in $lines | Select-Object -Skip 2) {
            if ($line.Length -gt $start) { $line.Substring($start, [math]::Min($end, $line.Length) - $start).Trim() }
        }
        ($cells | Where-Object { $_ }) -join ' '
    }
}
AfterAll { Complete-VirtShellTest }

Describe 'Get-VirtModel table' {
    It 'keeps the words of Technique whole at a console <Width> wide' -TestCases @(
        @{ Width = 50 }, @{ Width = 80 }, @{ Width = 120 }
    ) {
        foreach ($model in Get-VirtModel) {
            $table = $model | Out-String -Width $Width
            Get-ColumnText $table 'Technique' 'Reason' | Should -Be $model.Technique -Because "model $($model.Name)"
        }
    }

    It 'keeps the words of Reason whole at a console <Width> wide' -TestCases @(@{ Width = 80 }, @{ Width = 120 }) {
        $reason = 'a reason long enough that it has to wrap at least twice in its column (look: /dev/kvm)'
        Get-VirtModel | Out-Null # loads the engine's assemblies
        $model = [VirtShell.PowerShell.Cmdlets.VirtModelInfo]::new(
            [VirtShell.Models.Emulated.EmulatedModel]::new(), [VirtShell.Engine.Models.ModelAvailability]::Unavailable($reason))
        Get-ColumnText ($model | Out-String -Width $Width) 'Reason' $null | Should -Be $reason
    }
}
