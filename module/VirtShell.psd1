@{
    RootModule           = 'VirtShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = 'a6a99bc4-426e-4675-9413-8458276e3506'
    Author               = 'VirtShell contributors'
    Description          = 'Define virtual machines as JavaScript device trees and drive their lifecycles from PowerShell: emulated, hardware, paravirtual and container models.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.6'
    FormatsToProcess     = @('VirtShell.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-VirtModel'
        'New-VirtMachine'
        'Get-VirtMachine'
        'Set-VirtMachine'
        'Start-VirtMachine'
        'Stop-VirtMachine'
        'Suspend-VirtMachine'
        'Resume-VirtMachine'
        'Wait-VirtMachine'
        'Receive-VirtConsole'
        'Send-VirtConsole'
        'Enter-VirtConsole'
        'Remove-VirtMachine'
        'Test-VirtDefinition'
        'Measure-VirtMachine'
        'Invoke-VirtCommand'
        'Compare-VirtModel'
        'Checkpoint-VirtMachine'
        'Get-VirtCheckpoint'
        'Restore-VirtCheckpoint'
        'Remove-VirtCheckpoint'
        'Export-VirtMachine'
        'Import-VirtMachine'
        'Move-VirtMachine'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('virtualization', 'emulator', 'kvm', 'containers')
        }
    }
}
