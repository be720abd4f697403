namespace VirtShell.Devices.Storage;

/// <summary>The ATA task file: register offsets and bits (ATA/ATAPI-6, section 7), and the command codes the disk knows.</summary>
internal static class Ata
{
    // Command block register offsets from the channel's base port; reads and writes differ at 1 and 7.
    public const int Data = 0, ErrorOrFeatures = 1, SectorCount = 2, LbaLow = 3, LbaMid = 4, LbaHigh = 5, Device = 6,
        StatusOrCommand = 7;

    // Status register.
    public const byte StatusBusy = 0x80, StatusReady = 0x40, StatusDeviceFault = 0x20, StatusSeekComplete = 0x10,
        StatusDataRequest = 0x08, StatusError = 0x01;

    // Error register.
    public const byte ErrorUncorrectable = 0x40, ErrorIdNotFound = 0x10, ErrorAborted = 0x04;
    /// <summary>What the error register holds after a reset: diagnostics passed, and no device 1 failed them.</summary>
    public const byte DiagnosticsPassed = 0x01;

    // Device register: LBA selects LBA addressing (CHS when clear); DEV selects device 1; bits 3-0 are LBA 27:24 in
    // 28-bit commands. Bits 7 and 5 are obsolete and read as one, as on the drives that once required them.
    public const byte DeviceLba = 0x40, DeviceSelect = 0x10, DeviceObsolete = 0xA0;

    // Device control register (write-only, in the control block): HOB reads the previous byte of the LBA48 register
    // pairs, SRST holds the devices in reset, nIEN keeps INTRQ released.
    public const byte ControlHighOrderByte = 0x80, ControlSoftReset = 0x04, ControlInterruptDisable = 0x02;

    public const byte CommandReadSectors = 0x20, CommandReadSectorsExt = 0x24, CommandWriteSectors = 0x30,
        CommandWriteSectorsExt = 0x34, CommandFlushCache = 0xE7, CommandFlushCacheExt = 0xEA,
        CommandIdentifyDevice = 0xEC, CommandSetFeatures = 0xEF;

    // SET FEATURES subcommands (in the features register).
    public const byte FeatureEnableWriteCache = 0x02, FeatureSetTransferMode = 0x03, FeatureDisableReadLookAhead = 0x55,
        FeatureDisableRevertToDefaults = 0x66, FeatureDisableWriteCache = 0x82, FeatureEnableReadLookAhead = 0xAA,
        FeatureEnableRevertToDefaults = 0xCC;

    // SET TRANSFER MODE values (in the sector count register): the PIO ones, since the disk has no DMA.
    public const byte TransferPioDefault = 0x00, TransferPioDefaultNoIordy = 0x01, TransferPioMode = 0x08;
    public const int HighestPioMode = 4;
}
