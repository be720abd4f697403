using System.Diagnostics;
using VirtShell.Devices;
using VirtShell.Devices.Apic;
using VirtShell.Devices.Storage;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.State;
using VirtShell.Tests.Devices;

namespace VirtShell.Tests.State;

/// <summary>
/// Each device programmed through its ports, saved, restored into a fresh instance, and checked two ways: the guest
/// reads the same registers back, and the fresh instance saves the very bytes the first one did (with one clock for
/// both, so timestamps compare exactly).
/// </summary>
public class DeviceStateRoundTripTests
{
    private static readonly long Now = Stopwatch.GetTimestamp();

    private static byte[] Save(IDeviceState device)
    {
        var writer = new StateWriter(Now);
        device.SaveState(writer);
        return writer.Written.ToArray();
    }

    /// <param name="sameBytes">False for a device that catches up with the host clock as it is restored (the RTC).</param>
    private static void RoundTrip(IDeviceState from, IDeviceState to, bool sameBytes = true)
    {
        byte[] saved = Save(from);
        var reader = new StateReader("test", saved, Now);
        to.RestoreState(reader);
        reader.End();
        if (sameBytes) Assert.Equal(saved, Save(to));
    }

    [Fact]
    public void The_8259_pair_keeps_its_initialization_masks_and_requests()
    {
        using var wake = new WakeSignal();
        var ports = new IoPortBus();
        var pic = new Pic8259Pair(wake);
        pic.Register(ports);
        PcChipset.InitializePicsAsBios(ports);
        ports.Write(0x21, 1, 0xF8);           // IMR: IRQ 0-2 open
        pic.SetIrq(1, true);                  // a keyboard request waits
        ports.Write(0x20, 1, 0x0B);           // OCW3: read ISR next

        var fresh = new Pic8259Pair(wake);
        var freshPorts = new IoPortBus();
        fresh.Register(freshPorts);
        RoundTrip(pic, fresh);
        Assert.Equal(0xF8u, freshPorts.Read(0x21, 1));
        Assert.True(fresh.HasPendingInterrupt);
        Assert.Equal(PcChipset.BiosMasterVectorBase + 1, fresh.AcknowledgeInterrupt());
        Assert.Equal(0x02u, freshPorts.Read(0x20, 1)); // IRQ 1 now in service, read as ISR (OCW3 kept)
    }

    [Fact]
    public void The_8254_keeps_its_modes_counts_and_latches()
    {
        var irq = new RecordingInterrupts();
        var ports = new IoPortBus();
        using var pit = new Pit8254(irq);
        pit.Register(ports);
        ports.Write(0x43, 1, 0xB0);           // channel 2, lobyte/hibyte, mode 0
        ports.Write(0x42, 1, 0x34);
        ports.Write(0x42, 1, 0x12);
        ports.Write(0x43, 1, 0x34);           // channel 0, mode 2
        ports.Write(0x40, 1, 0xA9);           // low byte only: a count half written
        ports.Write(0x43, 1, 0x40);           // latch channel 1

        using var fresh = new Pit8254(new RecordingInterrupts());
        RoundTrip(pit, fresh);
    }

    [Fact]
    public void The_UART_keeps_its_line_settings_FIFO_contents_and_interrupt()
    {
        const ushort Com1 = 0x3F8;
        var irq = new RecordingInterrupts();
        using var console = new ConsoleChannel(null);
        var ports = new IoPortBus();
        using var uart = new Uart16550(Com1, 4, irq, console);
        ports.Register(Com1, Uart16550.PortCount, uart, "uart");
        ports.Write(Com1 + 3, 1, 0x80);       // DLAB: divisor 3 (38400 baud)
        ports.Write(Com1, 1, 3);
        ports.Write(Com1 + 3, 1, 0x03);       // 8N1
        ports.Write(Com1 + 2, 1, 0xC7);       // FIFO on, trigger 14
        ports.Write(Com1 + 4, 1, 0x0B);       // DTR, RTS, OUT2
        ports.Write(Com1 + 1, 1, 0x01);       // receive interrupts
        ports.Write(Com1 + 7, 1, 0x5A);       // scratch
        console.SendInput("hey");
        Assert.True(irq.Level(4));

        var freshIrq = new RecordingInterrupts();
        using var freshConsole = new ConsoleChannel(null);
        var freshPorts = new IoPortBus();
        using var fresh = new Uart16550(Com1, 4, freshIrq, freshConsole);
        freshPorts.Register(Com1, Uart16550.PortCount, fresh, "uart");
        RoundTrip(uart, fresh);
        Assert.Equal(0x03u, freshPorts.Read(Com1 + 3, 1));
        Assert.Equal(0x5Au, freshPorts.Read(Com1 + 7, 1));
        Assert.Equal(0xCCu, freshPorts.Read(Com1 + 2, 1)); // FIFOs on, receive timeout (3 bytes, under the trigger level)
        Assert.Equal((uint)'h', freshPorts.Read(Com1, 1));
        Assert.Equal((uint)'e', freshPorts.Read(Com1, 1));
        Assert.Equal((uint)'y', freshPorts.Read(Com1, 1));
        Assert.Equal(0x60u, freshPorts.Read(Com1 + 5, 1) & 0x61); // empty again, transmitter idle
    }

    [Fact]
    public void The_RTC_keeps_its_RAM_registers_and_the_time_it_showed()
    {
        var irq = new RecordingInterrupts();
        var ports = new IoPortBus();
        using var rtc = new CmosRtc(irq, 64 << 20, new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc), Now);
        rtc.Register(ports);
        ports.Write(0x70, 1, 0x0B);
        ports.Write(0x71, 1, 0x06);           // binary, 24 h
        ports.Write(0x70, 1, 0x40);
        ports.Write(0x71, 1, 0x99);           // an NVRAM byte
        ports.Write(0x70, 1, 0x09);

        var freshPorts = new IoPortBus();
        using var fresh = new CmosRtc(new RecordingInterrupts(), 64 << 20);
        fresh.Register(freshPorts);
        RoundTrip(rtc, fresh, sameBytes: false);
        Assert.Equal(1u, freshPorts.Read(0x71, 1)); // the year 2001, in binary, not the host's year
        freshPorts.Write(0x70, 1, 0x40);
        Assert.Equal(0x99u, freshPorts.Read(0x71, 1));
    }

    [Fact]
    public void The_keyboard_controller_keeps_its_command_byte_and_pending_output()
    {
        var ports = new IoPortBus();
        var i8042 = new I8042(new RecordingInterrupts(), () => { });
        i8042.Register(ports);
        ports.Write(0x64, 1, 0x60);           // write the command byte
        ports.Write(0x60, 1, 0x45);
        ports.Write(0x64, 1, 0xAA);           // self test: 0x55 waits in the output buffer

        var freshPorts = new IoPortBus();
        var fresh = new I8042(new RecordingInterrupts(), () => { });
        fresh.Register(freshPorts);
        RoundTrip(i8042, fresh);
        Assert.Equal(0x55u, freshPorts.Read(0x60, 1));
        freshPorts.Write(0x64, 1, 0x20);
        Assert.Equal(0x45u | 0x04u, freshPorts.Read(0x60, 1)); // the self test set the system flag
    }

    [Fact]
    public void The_APICs_keep_their_registers_and_the_local_APIC_its_window()
    {
        using var rig = new ApicTestRig();
        rig.Apics.TryWriteBaseMsr(0xFED0_0000 | 0x800);
        rig.Mmio.Write(0xFED0_0080, 4, 0x30);     // TPR
        rig.Mmio.Write(0xFEC0_0000, 4, 0x12);     // I/O APIC select: redirection entry 1, low half
        rig.Mmio.Write(0xFEC0_0010, 4, 0x0000_A041);

        using var fresh = new ApicTestRig();
        RoundTrip(rig.Apics, fresh.Apics);
        Assert.Equal(0xFED0_0000UL | 0x900, fresh.Apics.BaseMsr);
        Assert.Equal(0x30UL, fresh.Mmio.Read(0xFED0_0080, 4));
        Assert.Equal(0x12UL, fresh.Mmio.Read(0xFEC0_0000, 4));
        Assert.Equal(0xA041UL, fresh.Mmio.Read(0xFEC0_0010, 4) & 0xFFFF);
        Assert.Equal(ulong.MaxValue >> 32, fresh.Mmio.Read(0xFEE0_0080, 4)); // the old window is gone
    }

    [Fact]
    public void The_ATA_disk_keeps_its_task_file_and_a_transfer_in_the_middle_of_a_sector()
    {
        string image = Path.GetTempFileName();
        File.WriteAllBytes(image, [.. Enumerable.Range(0, 4096).Select(i => (byte)i)]);
        var ports = new IoPortBus();
        using (var disk = new AtaDisk(DiskImage.Open(image, readOnly: true), "one", new RecordingInterrupts(), _ => { }))
        {
            foreach (var (first, count) in AtaDisk.Ports) ports.Register(first, count, disk, "ata");
            ports.Write(0x1F6, 1, 0xE0);          // LBA, device 0
            ports.Write(0x1F2, 1, 2);             // two sectors
            ports.Write(0x1F3, 1, 1);             // from LBA 1
            ports.Write(0x1F4, 1, 0);
            ports.Write(0x1F5, 1, 0);
            ports.Write(0x1F7, 1, 0x20);          // READ SECTORS
            for (int i = 0; i < 10; i++) ports.Read(0x1F0, 2);
            byte[] saved = Save(disk);

            var freshPorts = new IoPortBus();
            using var fresh = new AtaDisk(DiskImage.Open(image, readOnly: true), "one", new RecordingInterrupts(), _ => { });
            foreach (var (first, count) in AtaDisk.Ports) freshPorts.Register(first, count, fresh, "ata");
            var reader = new StateReader("ata", saved, Now);
            fresh.RestoreState(reader);
            reader.End();
            Assert.Equal(saved, Save(fresh));
            // Word 10 of sector 1 is bytes 532 and 533 of the image.
            Assert.Equal((uint)(532 & 0xFF | (533 & 0xFF) << 8), freshPorts.Read(0x1F0, 2));
        }
        File.Delete(image);
    }

    [Fact]
    public void A_section_shorter_or_longer_than_its_device_reads_is_an_error_naming_the_section()
    {
        using var wake = new WakeSignal();
        var pic = new Pic8259Pair(wake);
        byte[] saved = Save(pic);
        var shortReader = new StateReader("port 0x20", saved[..^1], Now);
        var e = Assert.Throws<StateFormatException>(() => pic.RestoreState(shortReader));
        Assert.Contains("section 'port 0x20': it ends early", e.Message);
        var longReader = new StateReader("port 0x20", saved.Append((byte)0).ToArray(), Now);
        new Pic8259Pair(wake).RestoreState(longReader);
        Assert.Contains("1 bytes are left over", Assert.Throws<StateFormatException>(longReader.End).Message);
    }
}
