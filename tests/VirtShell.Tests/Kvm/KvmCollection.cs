namespace VirtShell.Tests.Kvm;

/// <summary>KVM tests run alone: one of them counts the process's open descriptors, which a parallel test would disturb.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KvmCollection
{
    public const string Name = "kvm";
}
