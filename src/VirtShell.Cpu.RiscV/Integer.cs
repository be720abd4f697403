using System.Runtime.CompilerServices;
namespace VirtShell.Cpu.RiscV;

/// <summary>RV64I and M: the base integer instructions, multiply and divide, fences and the SYSTEM opcode.</summary>
public sealed unsafe partial class RiscvCpu
{
    /// <summary>The raw instruction being executed (the 16-bit parcel for compressed ones), for mtval on illegal instructions.</summary>
    private uint _inst;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Step()
    {
        uint inst = Fetch(out int length);
        if (length == 4) _inst = inst;
        ulong* x = _x;
        int rd = (int)(inst >> 7) & 31, rs1 = (int)(inst >> 15) & 31, rs2 = (int)(inst >> 20) & 31;
        int funct3 = (int)(inst >> 12) & 7;
        long immI = (int)inst >> 20;
        ulong next = _pc + (ulong)length;
        switch (inst & 0x7F)
        {
            case 0x37: // LUI
                if (rd != 0) x[rd] = (ulong)(long)(int)(inst & 0xFFFFF000);
                break;
            case 0x17: // AUIPC
                if (rd != 0) x[rd] = _pc + (ulong)(long)(int)(inst & 0xFFFFF000);
                break;
            case 0x6F: // JAL
                {
                    uint raw = ((inst >> 11) & 0x100000) | (inst & 0xFF000) | ((inst >> 9) & 0x800) | ((inst >> 20) & 0x7FE);
                    long offset = (int)(raw << 11) >> 11;
                    if (rd != 0) x[rd] = next;
                    _pc += (ulong)offset;
                    return;
                }
            case 0x67: // JALR
                {
                    if (funct3 != 0) throw Illegal();
                    ulong target = (x[rs1] + (ulong)immI) & ~1UL;
                    if (rd != 0) x[rd] = next;
                    _pc = target;
                    return;
                }
            case 0x63: // branches
                {
                    ulong a = x[rs1], b = x[rs2];
                    bool taken = funct3 switch
                    {
                        0 => a == b,
                        1 => a != b,
                        4 => (long)a < (long)b,
                        5 => (long)a >= (long)b,
                        6 => a < b,
                        7 => a >= b,
                        _ => throw Illegal(),
                    };
                    if (taken)
                    {
                        uint raw = ((inst >> 19) & 0x1000) | ((inst << 4) & 0x800) | ((inst >> 20) & 0x7E0) | ((inst >> 7) & 0x1E);
                        long offset = (int)(raw << 19) >> 19;
                        _pc += (ulong)offset;
                        return;
                    }
                    break;
                }
            case 0x03: // loads
                {
                    ulong address = x[rs1] + (ulong)immI;
                    ulong value = funct3 switch
                    {
                        0 => (ulong)(sbyte)Load(address, 1),
                        1 => (ulong)(short)Load(address, 2),
                        2 => (ulong)(int)Load(address, 4),
                        3 => Load(address, 8),
                        4 => Load(address, 1),
                        5 => Load(address, 2),
                        6 => Load(address, 4),
                        _ => throw Illegal(),
                    };
                    if (rd != 0) x[rd] = value;
                    break;
                }
            case 0x23: // stores
                {
                    if (funct3 > 3) throw Illegal();
                    long offset = (int)((((inst >> 20) & 0xFE0) | ((inst >> 7) & 31)) << 20) >> 20;
                    Store(x[rs1] + (ulong)offset, 1 << funct3, x[rs2]);
                    break;
                }
            case 0x13: // OP-IMM
                {
                    ulong a = x[rs1];
                    int shamt = (int)(inst >> 20) & 63;
                    ulong value = funct3 switch
                    {
                        0 => a + (ulong)immI,
                        1 => (inst >> 26) == 0 ? a << shamt : throw Illegal(),
                        2 => (long)a < immI ? 1UL : 0,
                        3 => a < (ulong)immI ? 1UL : 0,
                        4 => a ^ (ulong)immI,
                        5 => (inst >> 26) switch { 0 => a >> shamt, 0x10 => (ulong)((long)a >> shamt), _ => throw Illegal() },
                        6 => a | (ulong)immI,
                        _ => a & (ulong)immI,
                    };
                    if (rd != 0) x[rd] = value;
                    break;
                }
            case 0x1B: // OP-IMM-32
                {
                    uint a = (uint)x[rs1];
                    int shamt = rs2;
                    int value = funct3 switch
                    {
                        0 => (int)(a + (uint)immI),
                        1 => (inst >> 25) == 0 ? (int)(a << shamt) : throw Illegal(),
                        5 => (inst >> 25) switch { 0 => (int)(a >> shamt), 0x20 => (int)a >> shamt, _ => throw Illegal() },
                        _ => throw Illegal(),
                    };
                    if (rd != 0) x[rd] = (ulong)(long)value;
                    break;
                }
            case 0x33: // OP
                {
                    ulong value = Op(inst >> 25, funct3, x[rs1], x[rs2]);
                    if (rd != 0) x[rd] = value;
                    break;
                }
            case 0x3B: // OP-32
                {
                    ulong value = (ulong)(long)Op32(inst >> 25, funct3, (uint)x[rs1], (uint)x[rs2]);
                    if (rd != 0) x[rd] = value;
                    break;
                }
            case 0x0F: // FENCE, FENCE.I: one hart, no caches, and decoded code is not kept
                if (funct3 > 1) throw Illegal();
                break;
            case 0x73:
                System(inst, funct3);
                if (_pc != next - (ulong)length) return; // xRET, WFI and traps set pc themselves
                break;
            case 0x2F:
                Atomic(inst, funct3, rd, rs1, rs2);
                break;
            case 0x07:
            case 0x27:
            case 0x43:
            case 0x47:
            case 0x4B:
            case 0x4F:
            case 0x53:
                FloatingPoint(inst, rd, rs1, rs2, funct3);
                break;
            default:
                throw Illegal();
        }
        _pc = next;
    }

    private ulong Op(uint funct7, int funct3, ulong a, ulong b)
    {
        int shamt = (int)(b & 63);
        switch (funct7)
        {
            case 0:
                return funct3 switch
                {
                    0 => a + b,
                    1 => a << shamt,
                    2 => (long)a < (long)b ? 1UL : 0,
                    3 => a < b ? 1UL : 0,
                    4 => a ^ b,
                    5 => a >> shamt,
                    6 => a | b,
                    _ => a & b,
                };
            case 0x20:
                return funct3 switch
                {
                    0 => a - b,
                    5 => (ulong)((long)a >> shamt),
                    _ => throw Illegal(),
                };
            case 1:
                return funct3 switch
                {
                    0 => a * b,
                    1 => (ulong)(((Int128)(long)a * (long)b) >> 64),
                    2 => (ulong)(((Int128)(long)a * (Int128)(UInt128)b) >> 64),
                    3 => Math.BigMul(a, b, out _),
                    4 => b == 0 ? ulong.MaxValue : (long)a == long.MinValue && (long)b == -1 ? a : (ulong)((long)a / (long)b),
                    5 => b == 0 ? ulong.MaxValue : a / b,
                    6 => b == 0 ? a : (long)a == long.MinValue && (long)b == -1 ? 0 : (ulong)((long)a % (long)b),
                    _ => b == 0 ? a : a % b,
                };
            default:
                throw Illegal();
        }
    }

    private int Op32(uint funct7, int funct3, uint a, uint b)
    {
        int shamt = (int)(b & 31);
        return (funct7, funct3) switch
        {
            (0, 0) => (int)(a + b),
            (0, 1) => (int)(a << shamt),
            (0, 5) => (int)(a >> shamt),
            (0x20, 0) => (int)(a - b),
            (0x20, 5) => (int)a >> shamt,
            (1, 0) => (int)(a * b),
            (1, 4) => b == 0 ? -1 : (int)a == int.MinValue && (int)b == -1 ? (int)a : (int)a / (int)b,
            (1, 5) => b == 0 ? -1 : (int)(a / b),
            (1, 6) => b == 0 ? (int)a : (int)a == int.MinValue && (int)b == -1 ? 0 : (int)a % (int)b,
            (1, 7) => b == 0 ? (int)a : (int)(a % b),
            _ => throw Illegal(),
        };
    }

    private void System(uint inst, int funct3)
    {
        if (funct3 != 0)
        {
            if (funct3 == 4) throw Illegal();
            CsrInstruction(inst);
            return;
        }
        switch (inst)
        {
            case 0x0000_0073:
                throw Trap(_priv switch
                {
                    Privilege.User => Exceptions.EcallFromU,
                    Privilege.Supervisor => Exceptions.EcallFromS,
                    _ => Exceptions.EcallFromM,
                }, 0);
            case 0x0010_0073: throw Trap(Exceptions.Breakpoint, _pc);
            case 0x3020_0073: MachineReturn(); return;
            case 0x1020_0073: SupervisorReturn(); return;
            case 0x1050_0073: WaitForInterrupt(); return;
        }
        if ((inst >> 25) == 0x09 && ((inst >> 7) & 31) == 0) FenceVma();
        else throw Illegal();
    }
}
