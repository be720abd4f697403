# A rig of SSH "hosts" on this machine, for PowerShell remoting tests: each host is a network namespace with its own
# address on a private bridge, its own sshd (Debian's openssh-server, run in the foreground by us), its own host key
# and its own VIRTSHELL_HOME, and the PowerShell SSH subsystem pointing at this repository's pwsh and module.
# Nothing leaves the machine: the bridge has no uplink and the namespaces have no default route. The client side
# (key pair, known_hosts, ssh config) lives in the rig's folder, so ~/.ssh is never read for trust nor written.
#
#   . scripts/remoting/SshHosts.ps1
#   $rig = New-SshHostRig -Count 3
#   $sessions = New-SshHostSession $rig      # one session per host, as root with the rig's key
#   Remove-SshHostRig $rig
#
# Needs root (namespaces, a bridge, sshd), iproute2 and openssh-server/-client (build.ps1 -Task Bootstrap).

$script:SshHostRepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path

# Why a rig cannot be made here, or $null when it can.
function Get-SshHostRigSkipReason {
    if ((& id -u) -ne '0') { return 'the SSH host rig needs root (network namespaces, a bridge, sshd)' }
    foreach ($tool in '/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/ssh-keygen') {
        if (-not (Test-Path $tool)) { return "$tool is missing (build.ps1 -Task Bootstrap installs openssh-server and openssh-client)" }
    }
    if (-not (Get-Command ip -ErrorAction Ignore)) { return "'ip' is missing (iproute2)" }
    $null
}

# Runs a native command and throws with its output when it fails.
function Invoke-RigCommand {
    param([Parameter(Mandatory)] [string] $Command, [string[]] $Arguments = @())
    $output = & $Command @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw "$Command $($Arguments -join ' ') failed (exit $LASTEXITCODE): $($output -join "`n")" }
}

# A /24 under 10.219.0.0/16 that no route of this machine touches yet.
function Get-FreeRigSubnet {
    $routes = (& ip -4 route show) -join "`n"
    foreach ($third in Get-Random -InputObject (0..255) -Count 256) {
        $prefix = "10.219.$third"
        if ($routes -notmatch [regex]::Escape("$prefix.")) { return $prefix }
    }
    throw 'no free /24 left under 10.219.0.0/16 for the SSH host rig'
}

# The executable sshd runs for the powershell subsystem: this process's pwsh (a dotnet tool here, so 'dotnet pwsh.dll'),
# with the host's own VIRTSHELL_HOME and the module in out/VirtShell on PSModulePath. sshd hands the subsystem a bare
# environment, so everything it needs is set here.
function New-RigPwshWrapper {
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $VirtShellHome, [Parameter(Mandatory)] [string] $ModulePath)
    $exe = (Get-Process -Id $PID).Path
    $start = if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { "'$exe' '$(Join-Path $PSHOME 'pwsh.dll')'" } else { "'$exe'" }
    $dotnetRoot = if ($env:DOTNET_ROOT) { $env:DOTNET_ROOT } else { Split-Path $exe }
    @"
#!/bin/sh
export HOME='$VirtShellHome'
export PATH='/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
export DOTNET_ROOT='$dotnetRoot'
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export POWERSHELL_TELEMETRY_OPTOUT=1
export VIRTSHELL_HOME='$VirtShellHome'
export VIRTSHELL_MODULE_PATH='$ModulePath'
export PSModulePath='$(Split-Path $ModulePath)'
exec $start "`$@"
"@ | Set-Content -LiteralPath $Path -NoNewline
    Invoke-RigCommand chmod @('755', $Path)
}

# Creates $Count hosts and starts their sshd; returns the rig (Root, KeyFile, KnownHostsFile, ConfigFile, SshOptions,
# Hosts: Name, Namespace, Address, VirtShellHome, SshdPid). A failure part way removes what was made.
function New-SshHostRig {
    param([ValidateRange(1, 200)] [int] $Count = 3, [string] $ModulePath)
    $reason = Get-SshHostRigSkipReason
    if ($reason) { throw $reason }
    if (-not $ModulePath) {
        $ModulePath = if ($env:VIRTSHELL_MODULE_PATH) { $env:VIRTSHELL_MODULE_PATH } else { Join-Path $SshHostRepoRoot 'out/VirtShell' }
    }
    $ModulePath = (Resolve-Path $ModulePath).Path
    # Interface names are at most 15 characters: vsb + 6 hex for the bridge, vsv + 6 hex + n + index for the veths.
    $id = [guid]::NewGuid().ToString('N').Substring(0, 6)
    $root = Join-Path ([IO.Path]::GetTempPath()) "virtshell-sshrig-$id"
    $rig = [pscustomobject]@{
        Id = $id; Root = $root; Bridge = "vsb$id"; Subnet = $null
        KeyFile = Join-Path $root 'client/id_ed25519'
        KnownHostsFile = Join-Path $root 'client/known_hosts'
        ConfigFile = Join-Path $root 'client/ssh_config'
        SshOptions = $null
        Hosts = [Collections.Generic.List[object]]::new()
    }
    try {
        New-Item -ItemType Directory (Join-Path $root 'client') | Out-Null
        Invoke-RigCommand ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', "virtshell-rig-$id", '-f', $rig.KeyFile)
        $authorizedKeys = Join-Path $root 'authorized_keys'
        Copy-Item "$($rig.KeyFile).pub" $authorizedKeys

        $prefix = Get-FreeRigSubnet
        $rig.Subnet = "$prefix.0/24"
        Invoke-RigCommand ip @('link', 'add', $rig.Bridge, 'type', 'bridge')
        Invoke-RigCommand ip @('addr', 'add', "$prefix.1/24", 'dev', $rig.Bridge)
        Invoke-RigCommand ip @('link', 'set', $rig.Bridge, 'up')

        $knownHosts = [Collections.Generic.List[string]]::new()
        for ($index = 1; $index -le $Count; $index++) {
            $name = "host$index"
            $namespace = "vsh-$id-$index"
            $address = "$prefix.$(10 + $index)"
            $folder = Join-Path $root $name
            $virtShellHome = Join-Path $folder 'home'
            New-Item -ItemType Directory $virtShellHome | Out-Null
            $entry = [pscustomobject]@{
                Name = $name; Namespace = $namespace; Address = $address; Folder = $folder
                VirtShellHome = $virtShellHome; SshdPid = $null
            }
            $rig.Hosts.Add($entry)

            $veth = "vsv${id}n$index"
            Invoke-RigCommand ip @('netns', 'add', $namespace)
            Invoke-RigCommand ip @('link', 'add', $veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', $namespace)
            Invoke-RigCommand ip @('link', 'set', $veth, 'master', $rig.Bridge, 'up')
            Invoke-RigCommand ip @('-n', $namespace, 'addr', 'add', "$address/24", 'dev', 'eth0')
            Invoke-RigCommand ip @('-n', $namespace, 'link', 'set', 'eth0', 'up')
            Invoke-RigCommand ip @('-n', $namespace, 'link', 'set', 'lo', 'up')

            $hostKey = Join-Path $folder 'ssh_host_ed25519_key'
            Invoke-RigCommand ssh-keygen @('-q', '-t', 'ed25519', '-N', '', '-C', $name, '-f', $hostKey)
            $knownHosts.Add("$address $((Get-Content "$hostKey.pub" -Raw).Trim())")
            $wrapper = Join-Path $folder 'pwsh-subsystem'
            New-RigPwshWrapper -Path $wrapper -VirtShellHome $virtShellHome -ModulePath $ModulePath
            $config = Join-Path $folder 'sshd_config'
            # StrictModes is off because the rig lives under /tmp (world-writable), which sshd would refuse for
            # authorized_keys; only the rig's own client key is in it. sshd starts the subsystem through the user's
            # shell, and Debian's bash reads ~/.bashrc for a command run by sshd: HOME is the host's folder (SetEnv
            # comes after sshd's own HOME), so a user's rc file (root's runs 'pyenv init') is not part of each session.
            @"
ListenAddress $address
Port 22
HostKey $hostKey
PidFile $(Join-Path $folder 'sshd.pid')
AuthorizedKeysFile $authorizedKeys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
SetEnv HOME=$folder
Subsystem powershell $wrapper -sshs -NoLogo
"@ | Set-Content -LiteralPath $config
            Start-RigSshd -Rig $rig -HostEntry $entry -Config $config
        }
        Set-Content -LiteralPath $rig.KnownHostsFile -Value $knownHosts
        # What New-PSSession -Options passes to ssh as -o: trust only the rig's known_hosts and key.
        $rig.SshOptions = @{
            UserKnownHostsFile = $rig.KnownHostsFile
            GlobalKnownHostsFile = '/dev/null'
            StrictHostKeyChecking = 'yes'
            IdentitiesOnly = 'yes'
            BatchMode = 'yes'
            ConnectTimeout = '10'
        }
        # The same for ssh on the command line: ssh -F $rig.ConfigFile <address>
        @(
            'Host *'
            '    User root'
            "    IdentityFile $($rig.KeyFile)"
            $rig.SshOptions.GetEnumerator() | Sort-Object Key | ForEach-Object { "    $($_.Key) $($_.Value)" }
        ) | Set-Content -LiteralPath $rig.ConfigFile
        $rig
    }
    catch {
        Remove-SshHostRig $rig
        throw
    }
}

# Starts a host's sshd in its namespace, in the foreground (-D) so its pid is ours to stop, and waits until it listens.
function Start-RigSshd {
    param([Parameter(Mandatory)] $Rig, [Parameter(Mandatory)] $HostEntry, [Parameter(Mandatory)] [string] $Config)
    # sshd wants its privilege separation directory, which Debian makes at boot (tmpfiles) and an unbooted container
    # lacks. It is the system's, empty, and stays.
    if (-not (Test-Path /run/sshd)) { New-Item -ItemType Directory /run/sshd | Out-Null }
    Invoke-RigCommand /usr/sbin/sshd @('-t', '-f', $Config)
    # Into the namespace's network, and a mount namespace of its own that starts as a copy of this one (so mounts its
    # containers make go with it): ip netns exec would also mount a /sys of its own, without the cgroup mounts that
    # runc needs for the containers a host runs.
    $info = [Diagnostics.ProcessStartInfo]::new('nsenter')
    foreach ($argument in "--net=/run/netns/$($HostEntry.Namespace)", 'unshare', '--mount', '--propagation', 'private', '/usr/sbin/sshd', '-D', '-f', $Config, '-E', (Join-Path $HostEntry.Folder 'sshd.log')) {
        $info.ArgumentList.Add($argument)
    }
    $info.UseShellExecute = $false
    # nsenter and unshare exec in place, so this is sshd's own pid.
    $process = [Diagnostics.Process]::Start($info)
    $HostEntry.SshdPid = $process.Id
    $deadline = [DateTime]::UtcNow.AddSeconds(10)
    while ($true) {
        if ($process.HasExited) {
            throw "sshd of $($HostEntry.Name) ($($HostEntry.Address)) exited with $($process.ExitCode): $(Get-Content (Join-Path $HostEntry.Folder 'sshd.log') -Raw -ErrorAction Ignore)"
        }
        $listening = & ip netns exec $HostEntry.Namespace ss -Htln "sport = :22"
        if ($listening) { return }
        if ([DateTime]::UtcNow -gt $deadline) { throw "sshd of $($HostEntry.Name) did not listen on $($HostEntry.Address):22 within 10 s" }
        Start-Sleep -Milliseconds 50
    }
}

# Takes one host down as a crash would: its sshd and every process in its namespace (the sessions' pwsh, and
# whatever they started, such as a per-machine host process). The namespace stays, so its address stops answering.
# Opens a session, as root with the rig's key, on each of $Hosts (every host of the rig by default), named for it.
function New-SshHostSession {
    param([Parameter(Mandatory)] $Rig, [object[]] $Hosts = $Rig.Hosts)
    foreach ($entry in $Hosts) {
        New-PSSession -HostName $entry.Address -UserName root -KeyFilePath $Rig.KeyFile -Options $Rig.SshOptions -Name $entry.Name -ErrorAction Stop
    }
}

function Stop-SshHost {
    param([Parameter(Mandatory, Position = 0)] $HostEntry)
    if ($HostEntry.SshdPid) {
        Get-Process -Id $HostEntry.SshdPid -ErrorAction Ignore | ForEach-Object { $_.Kill(); $_.WaitForExit(10000) | Out-Null }
        $HostEntry.SshdPid = $null
    }
    $namespaces = @(& ip netns list 2>$null | ForEach-Object { ($_ -split ' ')[0] })
    if ($namespaces -notcontains $HostEntry.Namespace) { return }
    foreach ($processId in @(& ip netns pids $HostEntry.Namespace 2>$null)) {
        Get-Process -Id $processId -ErrorAction Ignore | ForEach-Object { $_.Kill($true); $_.WaitForExit(10000) | Out-Null }
    }
}

# Stops every host (Stop-SshHost) and deletes the namespaces, veths, bridge and folder. Safe on a half-made rig and
# when called twice.
function Remove-SshHostRig {
    param([Parameter(Mandatory, Position = 0)] $Rig)
    foreach ($entry in $Rig.Hosts) {
        Stop-SshHost $entry
        & ip netns delete $entry.Namespace 2>$null
    }
    # Deleting a namespace deletes its veth ends, and with them the bridge's ends.
    if (& ip link show $Rig.Bridge 2>$null) { & ip link delete $Rig.Bridge 2>$null }
    if (Test-Path $Rig.Root) { Remove-Item -LiteralPath $Rig.Root -Recurse -Force }
}
