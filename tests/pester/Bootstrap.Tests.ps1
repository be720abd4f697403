# build.ps1's setup on a fresh Debian machine: which packages count as missing, and what -Task Bootstrap then runs.
BeforeDiscovery {
    $script:NoDpkg = -not (Get-Command dpkg-query -ErrorAction Ignore)
}

BeforeAll {
    $script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    . (Join-Path $RepoRoot 'scripts/bootstrap.ps1')
}

Describe 'Debian package detection' -Skip:$NoDpkg {
    It 'reports a package dpkg has never heard of as missing' {
        Get-MissingDebianPackage 'virtshell-no-such-package' | Should -Be 'virtshell-no-such-package'
    }

    It 'does not report a package that is installed' {
        Get-MissingDebianPackage 'dpkg', 'virtshell-no-such-package' | Should -Be 'virtshell-no-such-package'
    }
}

# A fresh machine, simulated: stand-ins for dpkg-query, apt-get and id on PATH. The fake dpkg knows only what the
# fake apt-get installed, so the task has to install every package of the list and then see them installed.
Describe 'build.ps1 -Task Bootstrap on a machine without the packages' {
    BeforeAll {
        $script:Fake = Join-Path ([IO.Path]::GetTempPath()) "virtshell-fresh-$([guid]::NewGuid().ToString('N'))"
        New-Item -ItemType Directory $Fake | Out-Null
        $installed = Join-Path $Fake 'installed'
        $aptLog = Join-Path $Fake 'apt.log'
        New-Item -ItemType File $installed | Out-Null
        @"
#!/bin/sh
# dpkg-query -W -f=... NAME: known only if the fake apt-get installed it
name="`$3"
grep -qx "`$name" '$installed' || { echo "dpkg-query: no packages found matching `$name" >&2; exit 1; }
printf 'install ok installed'
"@ | Set-Content (Join-Path $Fake 'dpkg-query')
        @"
#!/bin/sh
echo "`$*" >> '$aptLog'
[ "`$1" = install ] || exit 0
shift
for arg in "`$@"; do case "`$arg" in -*) ;; *) echo "`$arg" >> '$installed' ;; esac; done
"@ | Set-Content (Join-Path $Fake 'apt-get')
        "#!/bin/sh`necho 0" | Set-Content (Join-Path $Fake 'id')
        # systemd as Debian leaves it after installing openssh-server: ssh.service started
        $systemctlLog = Join-Path $Fake 'systemctl.log'
        @"
#!/bin/sh
echo "`$*" >> '$systemctlLog'
[ "`$1" = is-active ] && echo active
exit 0
"@ | Set-Content (Join-Path $Fake 'systemctl')
        & chmod +x (Join-Path $Fake 'dpkg-query') (Join-Path $Fake 'apt-get') (Join-Path $Fake 'id') (Join-Path $Fake 'systemctl')
        $script:AptLog = $aptLog
        $script:SystemctlLog = $systemctlLog
        # The task as a user runs it, in a PowerShell of its own, with the stand-ins first on PATH.
        function script:Invoke-Bootstrap {
            Push-Location $RepoRoot
            try { & /usr/bin/env "PATH=${Fake}:$env:PATH" dotnet pwsh -NoProfile -File ./build.ps1 -Task Bootstrap }
            finally { Pop-Location }
        }
    }
    AfterAll { Remove-Item -LiteralPath $Fake -Recurse -Force }

    It 'installs every package of the list, then finds them installed' {
        $output = Invoke-Bootstrap 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $calls = Get-Content $AptLog
        $calls[0] | Should -Be 'update'
        $calls[1] | Should -Match '^install -y --no-install-recommends '
        foreach ($package in $DebianPackages.Keys) { $calls[1] -split ' ' | Should -Contain $package }
    }

    It 'stops and disables the system sshd that installing openssh-server started' {
        Get-Content $SystemctlLog | Should -Contain 'disable --now ssh.service'
    }

    It 'installs nothing the second time, and leaves an sshd already there alone' {
        Remove-Item $AptLog, $SystemctlLog
        Invoke-Bootstrap | Out-Null
        $LASTEXITCODE | Should -Be 0
        Test-Path $AptLog | Should -BeFalse
        Test-Path $SystemctlLog | Should -BeFalse
    }
}
