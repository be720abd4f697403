# The README's demo: boots machine-defs/hello-emulated.js, talks to it over its serial console, and shows how it ended.
param([Parameter(Mandatory)] [string] $ModulePath)
$ErrorActionPreference = 'Stop'
$root = Split-Path $PSScriptRoot
# A home of its own, so the demo neither sees nor disturbs the user's machines.
$env:VIRTSHELL_HOME = Join-Path $root 'out/demo-home'
Import-Module $ModulePath

$definition = Join-Path $root 'machine-defs/hello-emulated.js'
$name = "hello-demo-$PID"
Write-Host "New-VirtMachine -Definition $definition -Name $name | Start-VirtMachine" -ForegroundColor Cyan
$vm = New-VirtMachine -Definition $definition -Name $name | Start-VirtMachine -PassThru
try {
    Receive-VirtConsole $vm -Wait -Pattern 'Hello' -Timeout 20 | ForEach-Object { Write-Host "  guest> $_" }
    foreach ($line in 'ping', 'VirtShell echoes what you type', 'exit') {
        Write-Host "Send-VirtConsole -Line '$line'" -ForegroundColor Cyan
        Send-VirtConsole $vm -Line $line
        Receive-VirtConsole $vm -Wait -Pattern ([regex]::Escape($line)) -Timeout 20 | ForEach-Object { Write-Host "  guest> $_" }
    }
    Wait-VirtMachine $vm -For Stopped -Timeout 20
    Receive-VirtConsole $vm | ForEach-Object { Write-Host "  guest> $_" }
    Get-VirtMachine $name | Format-Table | Out-String | Write-Host
    Write-Host "Exit: $($vm.LastExit.Reason), status $($vm.LastExit.Status)" -ForegroundColor Green
}
finally {
    Remove-VirtMachine $name -Force -Confirm:$false
}
