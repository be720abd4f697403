# Start-up figures: Import-Module time, and time from Start-VirtMachine to the hello guest's greeting.
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutDirectory,
    [int] $Runs = 10
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')

function Get-Median([double[]] $values) { $s = $values | Sort-Object; $s[[int][math]::Floor($s.Count / 2)] }

# Each import in a fresh process: the second import in one process costs nothing.
$imports = foreach ($i in 1..$Runs) {
    [double](& dotnet pwsh -NoProfile -Command "(Measure-Command { Import-Module '$ModulePath' }).TotalMilliseconds")
}

$env:VIRTSHELL_HOME = Join-Path $OutDirectory 'module-work'
Import-Module $ModulePath
$definition = Join-Path $root 'machine-defs/hello-emulated.js'
$greetings = foreach ($i in 1..$Runs) {
    $vm = New-VirtMachine -Definition $definition -Name "greet-$PID-$i"
    try {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Start-VirtMachine $vm
        Receive-VirtConsole $vm -Wait -Pattern '^Hello from VirtShell' -Timeout 30 | Out-Null
        $watch.Elapsed.TotalMilliseconds
    }
    finally { Remove-VirtMachine $vm -Force -Confirm:$false }
}

$rows = @(
    New-BenchRow 'startup' 'Import-Module VirtShell' (Get-Median $imports) 'ms' "median of $Runs fresh processes (target < 1000)"
    New-BenchRow 'startup' 'Start-VirtMachine to greeting (emulated)' (Get-Median $greetings) 'ms' "median of $Runs; first run $([math]::Round($greetings[0])) ms"
)
Save-BenchRows (Join-Path $OutDirectory 'module.json') $rows
