# Shared by the *.bench.ps1 scripts: result rows and their JSON file.

function New-BenchRow([string] $Benchmark, [string] $Subject, [double] $Value, [string] $Unit, [string] $Note = '') {
    [pscustomobject]@{ Benchmark = $Benchmark; Subject = $Subject; Value = [math]::Round($Value, 2); Unit = $Unit; Note = $Note }
}

function Save-BenchRows([string] $Path, [object[]] $Rows) {
    [pscustomobject]@{
        date = (Get-Date).ToUniversalTime().ToString('o')
        host = [pscustomobject]@{ cpus = [Environment]::ProcessorCount; kernel = (uname -r) }
        rows = $Rows
    } | ConvertTo-Json -Depth 5 | Set-Content $Path
    $Rows | Format-Table Benchmark, Subject, Value, Unit, Note -AutoSize | Out-String -Width 200
}

# A definition for one boot-sector image on one model, with the debug-exit port the bench guests leave through.
function New-BenchDefinition([string] $Directory, [string] $Image, [string] $Model, [string[]] $ExtraDevices = @()) {
    $devices = @("debugExit({ port: 0xf4 })") + $ExtraDevices
    $path = Join-Path $Directory "$([IO.Path]::GetFileNameWithoutExtension($Image))-$Model.js"
    @"
import { machine, uart16550, debugExit } from 'virtshell';
export default machine({
  name: 'bench', model: '$Model', memory: '16M',
  devices: [ $($devices -join ', ') ],
  boot: { type: 'bootSector', image: '$Image' },
});
"@ | Set-Content $path
    $path
}
