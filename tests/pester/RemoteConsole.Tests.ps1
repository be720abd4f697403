# Console and exec of machines on another host (issue #19), over the SSH host rig of Remoting.Tests.ps1
# (scripts/remoting/SshHosts.ps1): Receive-VirtConsole -Follow and Invoke-VirtCommand stream what the remote side
# writes as it writes it, and Enter-VirtConsole attaches a terminal (a pseudo-terminal here) to a remote machine.
# Streaming is shown without timing: the guest writes its next line only after this side has received the last one,
# so a command whose output came back only at its end would never see more than the first.
BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Initialize-VirtShellTest
    . (Join-Path $RepoRoot 'scripts/remoting/SshHosts.ps1')
    $script:RigSkipReason = Get-SshHostRigSkipReason
    if (-not $RigSkipReason) { $script:RigSkipReason = Get-HelloSkipReason }
    if (-not $RigSkipReason) {
        $script:Rig = New-SshHostRig -Count 1 -ModulePath (Get-VirtShellModulePath)
        $connect = @{ HostName = $Rig.Hosts[0].Address; UserName = 'root'; KeyFilePath = $Rig.KeyFile; Options = $Rig.SshOptions; ErrorAction = 'Stop' }
        # Two sessions to one host: one streams while the other sends to the same machine.
        $script:Session = New-PSSession @connect
        $script:Other = New-PSSession @connect
        $script:Address = $Rig.Hosts[0].Address
    }
}

AfterAll {
    Get-PSSession | Remove-PSSession
    if ($Rig) { Remove-SshHostRig $Rig }
    Complete-VirtShellTest
}

Describe 'Console and exec of a machine on another host' {
    BeforeEach { if ($RigSkipReason) { Set-ItResult -Skipped -Because $RigSkipReason } }
    AfterEach { if (-not $RigSkipReason) { Get-VirtMachine -Session $Session | Remove-VirtMachine -Force -Confirm:$false } }

    It 'Receive-VirtConsole -Follow brings each line as the remote guest prints it, and stopping it leaves the guest running' {
        New-VirtMachine -Session $Session -Definition $HelloDefinition -Name echo | Start-VirtMachine
        Receive-VirtConsole -Session $Session -Name echo -Wait -Pattern 'Hello' -Timeout 30 | Out-Null
        Send-VirtConsole -Session $Other -Name echo -Line 'ping1'
        # Each echo received here sends the next line, through the other session, while -Follow still runs there.
        $lines = Receive-VirtConsole -Session $Session -Name echo -Follow -Timeout 120 | ForEach-Object {
            $_
            if ($_ -match '^ping(\d)$' -and [int]$Matches[1] -lt 4) { Send-VirtConsole -Session $Other -Name echo -Line "ping$([int]$Matches[1] + 1)" }
        } | Select-Object -First 4
        @($lines) | Should -Be @('ping1', 'ping2', 'ping3', 'ping4')
        $lines[0].ComputerName | Should -Be $Address
        # Select-Object stopped the remote follow: the session answers again, and the guest runs on and echoes.
        (Get-VirtMachine -Session $Session -Name echo).State.ToString() | Should -Be 'Running'
        Send-VirtConsole -Session $Session -Name echo -Line 'after'
        Receive-VirtConsole -Session $Session -Name echo -Wait -Pattern '^after$' -Timeout 30 | Should -Be @('after')
    }

    It 'Send-VirtConsole types into a remote echo guest, and Receive-VirtConsole reads its echo' {
        New-VirtMachine -Session $Session -Definition $HelloDefinition -Name echo | Start-VirtMachine
        Receive-VirtConsole -Session $Session -Name echo -Wait -Pattern 'Hello' -Timeout 30 | Out-Null
        Send-VirtConsole -Session $Session -Name echo -Line 'over ssh' -PassThru | ForEach-Object ComputerName | Should -Be $Address
        Receive-VirtConsole -Session $Session -Name echo -Wait -Pattern '^over ssh$' -Timeout 30 | Should -Be @('over ssh')
    }

    It 'Invoke-VirtCommand in a remote container streams its lines as the command writes them' {
        $container = Get-VirtModel -Session $Session -Name container
        if (-not $container.Available) { Set-ItResult -Skipped -Because "model 'container' is not available there: $($container.Reason)"; return }
        $definition = Join-Path $TestDrive 'waiter.js'
        @"
import { machine } from 'virtshell';
export default machine({
  name: 'waiter', model: 'container', memory: '32M',
  container: {
    rootfs: { busybox: true },
    process: { args: ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'] },
    mounts: [{ type: 'tmpfs', target: '/run', size: '1M' }],
  },
});
"@ | Set-Content -LiteralPath $definition
        New-VirtMachine -Session $Session -Definition $definition | Start-VirtMachine
        # The command writes 'waiting', then waits (at most 60 s) for a file that this side makes once it has that line.
        $script = 'echo waiting; i=0; while [ ! -e /run/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; if [ -e /run/go ]; then echo seen; else echo gave up; fi'
        $lines = Invoke-VirtCommand -Session $Session -Name waiter -Command 'sh', '-c', $script | ForEach-Object {
            $_
            if ($_ -eq 'waiting') { Invoke-VirtCommand -Session $Other -Name waiter -Command 'touch', '/run/go' }
        }
        @($lines) | Should -Be @('waiting', 'seen')
        $lines[0].ComputerName | Should -Be $Address
    }

    It 'Enter-VirtConsole attaches a terminal to a remote machine: typed text reaches it, its output comes back, Ctrl+] detaches and it runs on' {
        if (-not (Get-Command python3 -ErrorAction Ignore)) { Set-ItResult -Skipped -Because 'python3 (its pty module drives the terminal) is not installed'; return }
        New-VirtMachine -Session $Session -Definition $HelloDefinition -Name echo | Start-VirtMachine
        Receive-VirtConsole -Session $Session -Name echo -Wait -Pattern 'Hello' -Timeout 30 | Out-Null
        $options = ($Rig.SshOptions.GetEnumerator() | ForEach-Object { "'$($_.Key)' = '$($_.Value)'" }) -join '; '
        $child = Get-ChildPwshCommand "Enter-VirtConsole -HostName 'root@$Address' -KeyFilePath '$($Rig.KeyFile)' -SshOption @{ $options } -Name echo -FromStart"
        $transcript = Join-Path $TestDrive 'enter.txt'
        # A pseudo-terminal that waits for the attachment, types a line, waits for its echo and types Ctrl+].
        $driver = @'
import os, pty, select, sys, time
transcript, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
seen = b''
def wait_for(text, seconds=120):
    global seen
    deadline = time.time() + seconds
    while time.time() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if text in seen:
            return True
    return False
ok = wait_for(b'Ctrl+] detaches')
if ok:
    os.write(fd, b'typed remotely\r')
    ok = wait_for(b'typed remotely\r\n')
if ok:
    os.write(fd, b'\x1d')
    wait_for(b'Detached from machine')
wait_for(b'\0', 30)
os.waitpid(pid, 0)
open(transcript, 'wb').write(seen)
'@
        & python3 -c $driver $transcript $child.Exe @($child.Arguments)
        $text = Get-Content -Raw $transcript
        $text | Should -Match 'Attached to machine echo on host [\d.]+; Ctrl\+\] detaches'
        # The greeting came from the guest's console kept there, the line typed here came back as its echo.
        $text | Should -Match 'Hello from VirtShell'
        $text | Should -Match 'typed remotely\r\n'
        $text | Should -Match "Detached from machine echo on host $([regex]::Escape($Address)), which is Running"
        (Get-VirtMachine -Session $Session -Name echo).State.ToString() | Should -Be 'Running'
        # The guest read the line as typed: it echoes to every reader, so -FromStart here sees it too.
        Receive-VirtConsole -Session $Session -Name echo -FromStart | Should -Contain 'typed remotely'
    }

    It 'names the host and the machine when the remote machine does not exist or does not run' {
        Enter-VirtConsole -Session $Session -Name nosuch -ErrorAction SilentlyContinue -ErrorVariable missing
        $missing.Count | Should -Be 1
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.MachineNotFound*'
        "$missing" | Should -BeLike "host ${Address}: no machine named 'nosuch'*"
        Receive-VirtConsole -Session $Session -Name nosuch -Follow -ErrorAction SilentlyContinue -ErrorVariable followed
        "$followed" | Should -BeLike "host ${Address}: no machine named 'nosuch'*"
        # One that is there but not running has no console to attach to, as here.
        New-VirtMachine -Session $Session -Definition $HelloDefinition -Name idle | Out-Null
        Enter-VirtConsole -Session $Session -Name idle -ErrorAction SilentlyContinue -ErrorVariable idle
        $idle[0].FullyQualifiedErrorId | Should -BeLike 'VirtShell.InvalidState*'
        "$idle" | Should -BeLike "host ${Address}: machine 'idle' is Created; only a running machine has a console to attach to"
    }
}
