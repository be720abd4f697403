// A PC as QEMU's `pc` machine gives it to a BIOS, on the emulated model: the BIOS starts at the reset vector, boots
// the ATA disk through INT 13h, and whatever is on the disk goes on from there. COM1 is the console; the BIOS's own
// diagnostics (SeaBIOS's debug log, the Bochs BIOS's info messages) go to the console too, through QEMU's debug port
// 0x402, since there is no screen. fw_cfg is there for SeaBIOS (the Bochs BIOS reads the CMOS instead). The Bochs
// BIOS, which has no serial console, also gets vgaText(): its screen (banner, "Booting from Hard Disk...") and
// SYSLINUX's, which SYSLINUX also sends to COM1, reach the console as lines.
import { machine, uart16550, ataDisk, fwCfg, debugConsole, vgaText } from 'virtshell';

export const firmware = {
  seabios: '/usr/share/seabios/bios.bin',        // Debian package seabios
  bochs: '/usr/share/bochs/BIOS-bochs-latest',   // Debian package bochsbios
};

export function biosMachine({ name, bios = 'seabios', disk, memory = '256M', hooks }) {
  const image = firmware[bios];
  if (!image) throw new Error(`bios must be one of ${Object.keys(firmware).join(', ')}, not '${bios}'`);
  return machine({
    name,
    model: 'emulated',
    memory,
    devices: [
      uart16550({ port: 0x3f8, irq: 4, console: true }),
      ataDisk({ image: disk }),
      fwCfg(),
      debugConsole({ port: 0x402 }),
      ...(bios === 'bochs' ? [vgaText()] : []),
    ],
    boot: { type: 'firmware', image },
    hooks,
  });
}
