using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using SysPowerShell = System.Management.Automation.PowerShell;

namespace VirtShell.PowerShell.Remoting;

/// <summary>
/// The sessions behind -HostName: opened with New-PSSession (SSH) the first time a host is named, then kept for this
/// PowerShell process and reused while open, since opening one costs seconds (ssh, the remote pwsh, the module's
/// import) and a pipeline's later commands send objects back to the session they came from. They are ordinary
/// PSSessions: Get-PSSession lists them and Remove-PSSession closes them. A host that cannot be reached is an error
/// naming it, with ssh's own reason, and the other hosts go on.
/// </summary>
internal static class RemoteSessions
{
    private static readonly ConcurrentDictionary<string, PSSession> Kept = new(StringComparer.Ordinal);

    public static IReadOnlyList<PSSession> Open(PSCmdlet cmdlet, IReadOnlyList<string> hosts, string? keyFile, Hashtable? options)
    {
        string? key = keyFile is null ? null : cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(keyFile);
        string optionText = options is null ? "" : string.Join(";", options.Keys.Cast<object>().Select(k => $"{k}={options[k]}").Order(StringComparer.Ordinal));
        string PoolKey(string host) => $"{host}\n{key}\n{optionText}";
        var missing = hosts.Distinct(StringComparer.Ordinal)
            .Where(h => !Kept.TryGetValue(PoolKey(h), out var s) || s.Runspace.RunspaceStateInfo.State != RunspaceState.Opened).ToList();
        if (missing.Count > 0)
        {
            cmdlet.WriteVerbose($"Opening PowerShell sessions over SSH to {string.Join(", ", missing)}");
            using var shell = SysPowerShell.Create(RunspaceMode.CurrentRunspace);
            shell.AddCommand("Microsoft.PowerShell.Core\\New-PSSession").AddParameter("HostName", missing.ToArray());
            if (key is not null) shell.AddParameter("KeyFilePath", key);
            if (options is not null) shell.AddParameter("Options", options);
            // Its errors do not say which host failed, nor why (see Why); a host that fails is reported below.
            shell.AddParameter("ErrorAction", ActionPreference.SilentlyContinue);
            IReadOnlyList<PSSession> opened;
            try { opened = shell.Invoke<PSSession>(); }
            catch (RuntimeException) { opened = []; } // a transport failure thrown rather than written: the hosts not opened are reported below
            foreach (var host in missing)
            {
                var session = opened.FirstOrDefault(s => string.Equals(s.ComputerName, AddressOf(host), StringComparison.OrdinalIgnoreCase));
                if (session is not null) Kept[PoolKey(host)] = session;
                else cmdlet.WriteError(new ErrorRecord(new RemoteHostException(AddressOf(host), Why(host, key, options)),
                    "VirtShell.HostUnreachable", ErrorCategory.ConnectionError, host));
            }
        }
        return hosts.Select(h => Kept.TryGetValue(PoolKey(h), out var s) && s.Runspace.RunspaceStateInfo.State == RunspaceState.Opened ? s : null)
            .OfType<PSSession>().Distinct().ToList();
    }

    private static string AddressOf(string host) => host[(host.LastIndexOf('@') + 1)..];

    /// <summary>
    /// Why a session to <paramref name="host"/> did not open. PowerShell says only that its SSH transport ended, so
    /// ssh itself is asked once more with the same key and options: its last line names the cause (an unknown
    /// host, a refused connection, a key the host does not accept). If ssh gets in, the powershell subsystem is at fault.
    /// </summary>
    private static string Why(string host, string? key, Hashtable? options)
    {
        var start = new ProcessStartInfo("ssh") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var argument in new[] { "-o", "BatchMode=yes", "-o", "ConnectTimeout=10" }) start.ArgumentList.Add(argument);
        if (options is not null)
            foreach (DictionaryEntry option in options) { start.ArgumentList.Add("-o"); start.ArgumentList.Add($"{option.Key}={option.Value}"); }
        if (key is not null) { start.ArgumentList.Add("-i"); start.ArgumentList.Add(key); }
        start.ArgumentList.Add(host);
        start.ArgumentList.Add("exit");
        string said;
        try
        {
            using var ssh = Process.Start(start)!;
            ssh.StandardInput.Close();
            var error = ssh.StandardError.ReadToEndAsync();
            if (!ssh.WaitForExit(20_000))
            {
                ssh.Kill();
                said = "ssh did not connect within 20 s";
            }
            else
            {
                var lines = error.GetAwaiter().GetResult().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                said = ssh.ExitCode == 0
                    ? "ssh logs in, but the host's 'powershell' subsystem did not start a PowerShell session (see the Subsystem line of its sshd_config)"
                    : lines.Length > 0 ? lines[^1] : $"ssh exited with {ssh.ExitCode}";
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            said = $"ssh could not be run: {e.Message}";
        }
        return $"host {AddressOf(host)}: could not open a PowerShell session over SSH: {said}";
    }
}
