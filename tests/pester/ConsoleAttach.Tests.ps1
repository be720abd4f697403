# Enter-VirtConsole through redirected standard input and output: several readers attached to one console at once
# each get every byte in order, and a Ctrl+] byte in the input detaches one while the machine runs on.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:CountImage = Join-Path $RepoRoot 'machine-defs/guests/count.bin'
    $script:SkipReason = Get-HelloSkipReason
    if (-not $SkipReason -and -not (Test-Path $CountImage)) { $script:SkipReason = "$CountImage is not built (run ./build.ps1 -Task Build)" }

    # A child pwsh running Enter-VirtConsole, its standard input a pipe this test holds and its standard output a file.
    function Start-Reader([string] $Name, [string] $OutFile) {
        $child = Get-ChildPwshCommand "Enter-VirtConsole -Name $Name -FromStart"
        $info = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
        foreach ($argument in @('-c', 'out=$1; shift; exec "$@" > "$out"', 'reader', $OutFile, $child.Exe) + $child.Arguments) {
            $info.ArgumentList.Add($argument)
        }
        $info.RedirectStandardInput = $true
        $info.RedirectStandardError = $true
        [Diagnostics.Process]::Start($info)
    }

    function Wait-ForText([string] $File, [string] $Text, [int] $Seconds = 90) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while ([DateTime]::UtcNow -lt $deadline) {
            if ((Test-Path $File) -and (Get-Content -Raw $File) -like "*$Text*") { return $true }
            Start-Sleep -Milliseconds 100
        }
        $false
    }

    function Send-Bytes([Diagnostics.Process] $Process, [byte[]] $Bytes) {
        $Process.StandardInput.BaseStream.Write($Bytes, 0, $Bytes.Length)
        $Process.StandardInput.BaseStream.Flush()
    }
}
AfterAll { Complete-VirtShellTest }

Describe 'Enter-VirtConsole' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
    }

    It 'Two readers attached at once each get every byte of a counted stream in order; a third types and detaches' {
        $definition = New-TestDefinition -FileName 'count.js' -Image $CountImage
        New-VirtMachine -Definition $definition -Name counter | Start-VirtMachine
        $files = 'a', 'b', 'c' | ForEach-Object { Join-Path $TestDrive "reader-$_.txt" }
        $readers = $files | ForEach-Object { Start-Reader counter $_ }
        try {
            # The guest waits for a key after 'ready': every reader is attached and streaming before it counts.
            foreach ($file in $files) { Wait-ForText $file 'ready' | Should -BeTrue -Because "$file shows the guest's first line" }
            Send-Bytes $readers[2] ([byte[]]@([byte][char]'g', 0x1d, [byte][char]'x'))
            $readers[2].WaitForExit(60000) | Should -BeTrue -Because 'Ctrl+] detaches'
            $readers[2].ExitCode | Should -Be 0

            foreach ($reader in $readers[0..1]) {
                $reader.WaitForExit(120000) | Should -BeTrue -Because 'a reader returns once the machine has stopped'
                $reader.ExitCode | Should -Be 0 -Because $reader.StandardError.ReadToEnd()
            }
            (Get-VirtMachine counter).LastExit.Status | Should -Be 1

            $expected = [Text.StringBuilder]::new("ready`r`n")
            foreach ($i in 1..20000) { [void]$expected.Append(('line {0:00000}' -f $i)).Append("`r`n") }
            foreach ($file in $files[0..1]) {
                $got = [IO.File]::ReadAllText($file)
                $got.Length | Should -Be $expected.Length -Because "$file has every byte"
                $got -ceq $expected.ToString() | Should -BeTrue -Because "$file has the lines in order"
            }
            # The detached reader saw a start of the same stream.
            $expected.ToString().StartsWith([IO.File]::ReadAllText($files[2])) | Should -BeTrue
        }
        finally {
            foreach ($reader in $readers) { if (-not $reader.HasExited) { $reader.Kill() } }
        }
    }

    It 'A machine that is not running has no console to attach to: InvalidState' {
        New-VirtMachine -Definition (New-TestDefinition -FileName 'idle.js') -Name idle | Out-Null
        Enter-VirtConsole -Name idle -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState,*'
    }
}
