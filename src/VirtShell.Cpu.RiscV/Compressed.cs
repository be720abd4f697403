namespace VirtShell.Cpu.RiscV;

/// <summary>
/// The C extension (RV64C): every 16-bit instruction is the 32-bit instruction it stands for, so the interpreter
/// executes one form. The expansion of all 65536 parcels is computed once; 0 marks the illegal and reserved ones.
/// </summary>
internal static class Compressed
{
    private static readonly uint[] Table = Build();

    public static uint Expand(uint parcel) => Table[parcel];

    private static uint[] Build()
    {
        var table = new uint[65536];
        for (uint i = 0; i < 65536; i++) if ((i & 3) != 3) table[i] = Decode(i);
        return table;
    }

    private static uint Bit(uint v, int b) => (v >> b) & 1;
    private static uint Bits(uint v, int hi, int lo) => (v >> lo) & ((1u << (hi - lo + 1)) - 1);
    private static int SignExtend(uint v, int bits) => (int)(v << (32 - bits)) >> (32 - bits);

    private static uint I(int imm, uint rs1, uint f3, uint rd, uint op) => ((uint)imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
    private static uint S(int imm, uint rs2, uint rs1, uint f3, uint op) =>
        (((uint)imm >> 5 & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((uint)imm & 31) << 7) | op;
    private static uint R(uint f7, uint rs2, uint rs1, uint f3, uint rd, uint op) => (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
    private static uint B(int imm, uint rs2, uint rs1, uint f3)
    {
        uint u = (uint)imm;
        return (Bit(u, 12) << 31) | (Bits(u, 10, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (Bits(u, 4, 1) << 8) | (Bit(u, 11) << 7) | 0x63;
    }
    private static uint J(int imm, uint rd)
    {
        uint u = (uint)imm;
        return (Bit(u, 20) << 31) | (Bits(u, 10, 1) << 21) | (Bit(u, 11) << 20) | (Bits(u, 19, 12) << 12) | (rd << 7) | 0x6F;
    }

    private const uint Load = 0x03, LoadFp = 0x07, OpImm = 0x13, OpImm32 = 0x1B, Store = 0x23, StoreFp = 0x27,
        Op = 0x33, Lui = 0x37, Op32 = 0x3B, Jalr = 0x67;

    private static uint Decode(uint c)
    {
        uint f3 = Bits(c, 15, 13);
        uint rdFull = Bits(c, 11, 7), rs2Full = Bits(c, 6, 2);
        uint rdP = Bits(c, 4, 2) + 8, rs1P = Bits(c, 9, 7) + 8;
        int imm6 = SignExtend((Bit(c, 12) << 5) | Bits(c, 6, 2), 6);
        switch (c & 3)
        {
            case 0:
                {
                    uint ldOffset = (Bits(c, 12, 10) << 3) | (Bits(c, 6, 5) << 6);
                    uint lwOffset = (Bits(c, 12, 10) << 3) | (Bit(c, 6) << 2) | (Bit(c, 5) << 6);
                    switch (f3)
                    {
                        case 0:
                            uint nzuimm = (Bits(c, 12, 11) << 4) | (Bits(c, 10, 7) << 6) | (Bit(c, 6) << 2) | (Bit(c, 5) << 3);
                            return nzuimm == 0 ? 0 : I((int)nzuimm, 2, 0, rdP, OpImm);
                        case 1: return I((int)ldOffset, rs1P, 3, rdP, LoadFp);
                        case 2: return I((int)lwOffset, rs1P, 2, rdP, Load);
                        case 3: return I((int)ldOffset, rs1P, 3, rdP, Load);
                        case 5: return S((int)ldOffset, rdP, rs1P, 3, StoreFp);
                        case 6: return S((int)lwOffset, rdP, rs1P, 2, Store);
                        case 7: return S((int)ldOffset, rdP, rs1P, 3, Store);
                        default: return 0;
                    }
                }
            case 1:
                switch (f3)
                {
                    case 0: return I(imm6, rdFull, 0, rdFull, OpImm);
                    case 1: return rdFull == 0 ? 0 : I(imm6, rdFull, 0, rdFull, OpImm32);
                    case 2: return I(imm6, 0, 0, rdFull, OpImm);
                    case 3:
                        if (rdFull == 2)
                        {
                            int imm = SignExtend((Bit(c, 12) << 9) | (Bit(c, 6) << 4) | (Bit(c, 5) << 6) | (Bits(c, 4, 3) << 7) | (Bit(c, 2) << 5), 10);
                            return imm == 0 ? 0 : I(imm, 2, 0, 2, OpImm);
                        }
                        return imm6 == 0 ? 0 : ((uint)(imm6 << 12) & 0xFFFFF000u) | (rdFull << 7) | Lui;
                    case 4:
                        {
                            uint shamt = (Bit(c, 12) << 5) | Bits(c, 6, 2);
                            uint rs2P = Bits(c, 4, 2) + 8;
                            switch (Bits(c, 11, 10))
                            {
                                case 0: return I((int)shamt, rs1P, 5, rs1P, OpImm);
                                case 1: return I((int)(shamt | 0x400), rs1P, 5, rs1P, OpImm);
                                case 2: return I(imm6, rs1P, 7, rs1P, OpImm);
                                default:
                                    return (Bit(c, 12), Bits(c, 6, 5)) switch
                                    {
                                        (0, 0) => R(0x20, rs2P, rs1P, 0, rs1P, Op),
                                        (0, 1) => R(0, rs2P, rs1P, 4, rs1P, Op),
                                        (0, 2) => R(0, rs2P, rs1P, 6, rs1P, Op),
                                        (0, 3) => R(0, rs2P, rs1P, 7, rs1P, Op),
                                        (1, 0) => R(0x20, rs2P, rs1P, 0, rs1P, Op32),
                                        (1, 1) => R(0, rs2P, rs1P, 0, rs1P, Op32),
                                        _ => 0,
                                    };
                            }
                        }
                    case 5:
                        return J(SignExtend((Bit(c, 12) << 11) | (Bit(c, 11) << 4) | (Bits(c, 10, 9) << 8) | (Bit(c, 8) << 10) |
                                            (Bit(c, 7) << 6) | (Bit(c, 6) << 7) | (Bits(c, 5, 3) << 1) | (Bit(c, 2) << 5), 12), 0);
                    default:
                        {
                            int offset = SignExtend((Bit(c, 12) << 8) | (Bits(c, 11, 10) << 3) | (Bits(c, 6, 5) << 6) | (Bits(c, 4, 3) << 1) | (Bit(c, 2) << 5), 9);
                            return B(offset, 0, rs1P, f3 == 6 ? 0u : 1u);
                        }
                }
            default:
                {
                    uint ldspOffset = (Bit(c, 12) << 5) | (Bits(c, 6, 5) << 3) | (Bits(c, 4, 2) << 6);
                    uint sdspOffset = (Bits(c, 12, 10) << 3) | (Bits(c, 9, 7) << 6);
                    switch (f3)
                    {
                        case 0: return I((int)((Bit(c, 12) << 5) | Bits(c, 6, 2)), rdFull, 1, rdFull, OpImm);
                        case 1: return I((int)ldspOffset, 2, 3, rdFull, LoadFp);
                        case 2: return rdFull == 0 ? 0 : I((int)((Bit(c, 12) << 5) | (Bits(c, 6, 4) << 2) | (Bits(c, 3, 2) << 6)), 2, 2, rdFull, Load);
                        case 3: return rdFull == 0 ? 0 : I((int)ldspOffset, 2, 3, rdFull, Load);
                        case 4:
                            if (Bit(c, 12) == 0)
                            {
                                if (rs2Full == 0) return rdFull == 0 ? 0 : I(0, rdFull, 0, 0, Jalr);
                                return R(0, rs2Full, 0, 0, rdFull, Op);
                            }
                            if (rs2Full == 0) return rdFull == 0 ? 0x00100073u /* ebreak */ : I(0, rdFull, 0, 1, Jalr);
                            return R(0, rs2Full, rdFull, 0, rdFull, Op);
                        case 5: return S((int)sdspOffset, rs2Full, 2, 3, StoreFp);
                        case 6: return S((int)((Bits(c, 12, 9) << 2) | (Bits(c, 8, 7) << 6)), rs2Full, 2, 2, Store);
                        default: return S((int)sdspOffset, rs2Full, 2, 3, Store);
                    }
                }
        }
    }
}
