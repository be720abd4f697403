// The container model drives Linux-only kernel features (namespaces, cgroups, overlayfs) through runc.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
