using VirtShell.Engine.Memory;
using VirtShell.Engine.State;
using VirtShell.Models.Hardware;
using VirtShell.Tests.Models;
using VirtShell.Tests.State;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// A KVM machine saved mid-run and restored into a fresh one goes on exactly where it was; KVM's dirty log reports the
/// guest's stores and our devices' writes. Skipped, with the reason, where /dev/kvm is not usable.
/// </summary>
[Collection(KvmCollection.Name)]
public sealed class KvmSavedStateTests
{
    private static string CountingOnHardware() => SavedStateRig.Definition(SavedStateGuestTests.CountingGuest, model: "hardware");

    [KvmFact]
    public void A_counting_guest_on_hardware_goes_on_after_save_and_restore_without_a_gap_or_a_repeat()
    {
        using var definition = TestDefinitions.Loader().Load(CountingOnHardware());
        byte[] saved;
        string before;
        using (var first = SavedStateRig.Boot(definition, model: new HardwareModel()))
        {
            first.WaitFor(text => text.Split('\n').Length > 30, "30 lines");
            saved = first.PauseAndSave();
            before = first.Output();
        }
        var state = SavedState.Read(new MemoryStream(saved));
        Assert.Equal("hardware", state.Model);
        Assert.Contains("cpu", state.SectionNames);
        Assert.Contains("port 0x20", state.SectionNames); // KVM's in-kernel chipset
        Assert.DoesNotContain("port 0x40", state.SectionNames); // the PIT is the kernel's, inside it

        using var second = SavedStateRig.Restore(definition, state, model: new HardwareModel());
        string after = second.WaitFor(text => text.Split('\n').Length > 30, "30 more lines");
        Assert.False(after.StartsWith("0\n1\n"), "the restored machine booted afresh instead of going on");
        int total = SavedStateGuestTests.CountedLines(before + after);
        Assert.True(total >= before.Split('\n').Length - 1 + 29);
        Assert.DoesNotContain("FAIL", before + after);
    }

    [KvmFact]
    public void A_state_of_another_model_is_refused_by_name()
    {
        using var emulated = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest));
        byte[] saved;
        using (var machine = SavedStateRig.Boot(emulated))
        {
            machine.WaitFor(text => text.Split('\n').Length > 3, "3 lines");
            saved = machine.PauseAndSave();
        }
        using var definition = TestDefinitions.Loader().Load(CountingOnHardware());
        var e = Assert.Throws<StateFormatException>(() => SavedStateRig.Restore(definition, SavedState.Read(new MemoryStream(saved)), model: new HardwareModel()));
        Assert.Contains("'emulated' machine, not 'hardware'", e.Message);
    }

    [KvmFact]
    public void The_dirty_log_names_the_pages_the_guest_and_our_devices_wrote_and_starts_clean_after_each_look()
    {
        using var definition = TestDefinitions.Loader().Load(CountingOnHardware());
        using var machine = SavedStateRig.Boot(definition, model: new HardwareModel());
        machine.WaitFor(text => text.Split('\n').Length > 3, "3 lines");
        var tracking = Assert.IsAssignableFrom<IDirtyPageTracking>(machine.Runtime.Cpu);

        tracking.StartDirtyTracking();
        int lines = machine.Output().Split('\n').Length;
        machine.WaitFor(text => text.Split('\n').Length > lines + 3, "3 more lines");
        machine.Runtime.Memory.Write(0x50000, [1, 2, 3]); // as a device would
        var dirty = tracking.CollectDirtyPages();
        Assert.Contains(6UL, dirty); // the stack below 0x7000, where each tick's interrupt frame goes
        Assert.Contains(0x50UL, dirty);
        Assert.Equal(dirty.Order(), dirty);

        machine.Runtime.Pause();
        tracking.CollectDirtyPages();
        Assert.Empty(tracking.CollectDirtyPages()); // paused: nothing writes
        machine.Runtime.Resume();
        tracking.StopDirtyTracking();
        tracking.StopDirtyTracking();
        Assert.Throws<InvalidOperationException>(() => tracking.CollectDirtyPages());
    }
}
