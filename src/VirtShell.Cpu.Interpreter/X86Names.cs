// The architecture's register bits and MSR indices (Engine's X86) by their bare names, as the handlers use them.
global using static VirtShell.Pc.X86;
