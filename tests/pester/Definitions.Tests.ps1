BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    $script:SkipReason = Get-HelloSkipReason

    # New-VirtMachine and Test-VirtDefinition must both refuse the file with DefinitionInvalid naming file:line,
    # and leave nothing in the store.
    function Assert-DefinitionRefused([string] $Path, [string] $Mentions) {
        $name = Split-Path $Path -Leaf
        New-VirtMachine -Definition $Path -Name refused -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.DefinitionInvalid,*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $message = $err[0].Exception.Message
        $message | Should -Match "$([regex]::Escape($name)):\d+"
        if ($Mentions) { $message | Should -Match $Mentions }
        $message | Should -Not -Match '\bat [\w.]+\(.*\) in ' -Because 'a stack trace is no message for bad input'
        Get-MachineFolderEntries | Should -BeNullOrEmpty

        Test-VirtDefinition -Path $Path -ErrorVariable testErr -ErrorAction SilentlyContinue | Should -BeFalse
        $testErr[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.DefinitionInvalid,*'
        $testErr[0].Exception.Message | Should -Match "$([regex]::Escape($name)):\d+"
        $message
    }
}
AfterAll { Complete-VirtShellTest }

Describe 'Definitions that cannot become machines' {
    BeforeEach { if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason } }

    It 'Test-VirtDefinition says $true for a good definition and makes no machine' {
        Test-VirtDefinition -Path $HelloDefinition | Should -BeTrue
        Get-MachineFolderEntries | Should -BeNullOrEmpty
    }

    It 'a syntax error names the file and the line' {
        $path = New-TestDefinition -FileName 'syntax.js' -Text @"
import { machine } from 'virtshell';

export default machine({ name: 'x',, });
"@
        Assert-DefinitionRefused $path | Should -Match 'syntax\.js:3'
    }

    It 'an unknown device names the file, the line and the device' {
        $path = New-TestDefinition -FileName 'unknown-device.js' -Imports 'machine, nosuch' -Devices 'nosuch({ port: 0x60 }),'
        Assert-DefinitionRefused $path -Mentions 'nosuch' | Out-Null
    }

    It 'two devices on overlapping ports name the file and line' {
        $path = New-TestDefinition -FileName 'overlap.js' -Devices @"
uart16550({ port: 0x3f8, irq: 4, console: true }),
    uart16550({ port: 0x3f8, irq: 3 }),
"@
        Assert-DefinitionRefused $path -Mentions '3f8|1016|overlap' | Out-Null
    }

    It 'a boot image that does not exist names the file, the line and the image' {
        $path = New-TestDefinition -FileName 'no-image.js' -Image (Join-Path $TestDrive 'not-there.bin')
        Assert-DefinitionRefused $path -Mentions 'not-there\.bin' | Out-Null
    }
}

Describe 'Hooks that misbehave' {
    BeforeEach {
        if ($SkipReason) { Set-ItResult -Skipped -Because $SkipReason }
        Get-VirtMachine | Remove-VirtMachine -Force -Confirm:$false
    }

    It 'a beforeBoot hook that loops forever fails Start with a hook error; the machine is Crashed and the shell goes on' {
        $path = New-TestDefinition -FileName 'loop.js' -Hooks 'beforeBoot(vm) { for (;;) {} },'
        New-VirtMachine -Definition $path -Name looper | Out-Null

        $elapsed = Measure-Command {
            Start-VirtMachine -Name looper -ErrorVariable err -ErrorAction SilentlyContinue
        }
        $elapsed.TotalSeconds | Should -BeLessThan 60
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.*'
        $err[0].Exception.Message | Should -Match 'beforeBoot'
        $machine = Get-VirtMachine looper
        $machine.State | Should -Be 'Crashed'
        $machine.LastExit.Reason | Should -Be 'HookError'

        (Get-VirtModel).Count | Should -Be 4 -Because 'the shell stays usable'
        Test-VirtDefinition -Path $HelloDefinition | Should -BeTrue
    }

    It 'a hook that allocates without bound gives an error, and the process survives' {
        $path = New-TestDefinition -FileName 'hog.js' -Hooks 'beforeBoot(vm) { const a = []; for (;;) a.push(new Array(1 << 20).fill(a.length)); },'
        # In a child process, so that a host crash shows up as a failed test rather than the end of the run.
        $output = Invoke-ChildPwsh @"
New-VirtMachine -Definition '$path' -Name hog | Out-Null
Start-VirtMachine -Name hog -ErrorVariable err -ErrorAction SilentlyContinue
"error: " + `$err[0].FullyQualifiedErrorId
"state: " + (Get-VirtMachine hog).State
"alive: " + (Get-VirtModel).Count
"@
        $output | Should -Contain 'alive: 4'
        ($output | Where-Object { $_ -like 'error: *' }) | Should -BeLike 'error: VirtShell.*'
        $output | Should -Contain 'state: Crashed'
    }
}

Describe 'Definitions written to hang the shell' {
    It 'Test-VirtDefinition on a spinning proxy returns with an error' {
        $path = New-TestDefinition -FileName 'spin.js' -Text "import { machine } from 'virtshell';`nexport default machine(new Proxy({}, { ownKeys() { while (true) {} } }));`n"
        $output = Invoke-ChildPwsh @"
Test-VirtDefinition -Path '$path' -ErrorVariable err -ErrorAction SilentlyContinue
"error: " + `$err[0].Exception.Message
"@
        $output | Should -Contain 'False'
        ($output | Where-Object { $_ -like 'error: *' }) | Should -Match 'spin\.js: .*did not finish within'
    }

    It 'Ctrl+C stops Test-VirtDefinition on a spinning proxy at once, and pwsh ends cleanly' {
        $path = New-TestDefinition -FileName 'spin.js' -Text "import { machine } from 'virtshell';`nexport default machine(new Proxy({}, { ownKeys() { while (true) {} } }));`n"
        $child = Start-ChildPwsh @"
[Console]::Out.WriteLine('ready')
try { Test-VirtDefinition -Path '$path' } finally { [Console]::Out.WriteLine('returned') }
"@
        try {
            $child.StandardOutput.ReadLine() | Should -Be 'ready'
            Start-Sleep -Seconds 2 # into the load
            & kill -INT $child.Id
            $child.WaitForExit(60000) | Should -BeTrue -Because 'a stop request interrupts the script at once'
            $output = $child.StandardOutput.ReadToEnd()
            $output | Should -Match 'returned'
            # Stopped, not timed out: a load that ran out of its budget would have printed False and an error.
            $output | Should -Not -Match 'False'
            $child.StandardError.ReadToEnd() | Should -BeNullOrEmpty
        }
        finally {
            if (-not $child.HasExited) { $child.Kill($true) }
            $child.Dispose()
        }
    }
}
