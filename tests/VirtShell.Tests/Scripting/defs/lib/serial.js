import { uart16550 } from 'virtshell';

export const memory = '2M';

export function console1() {
  return uart16550({ port: 0x3f8, irq: 4, console: true });
}
