# Sensirion CRC-8 (polynomial 0x31 = x^8+x^5+x^4+1, no reflection, no final XOR),
# shared by SHT3x/SCD4x (init 0xFF) and SHT2x/HTU21D (init 0x00).


def crc8(buf, start=0, end=None, init=0xFF):
    if end is None:
        end = len(buf)
    crc = init
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc
