"""Sensirion CRC-8: polynomial 0x31 (x^8+x^5+x^4+1), no reflection, no final
XOR. SHT3x/SCD4x start from 0xFF (SHT3x datasheet 4.12, SCD4x datasheet 3.11,
CRC(0xBEEF) = 0x92); SHT2x/HTU21D start from 0x00 (SHT21 datasheet 5.7)."""


def crc8(buf, start=0, end=None, init=0xFF):
    if end is None:
        end = len(buf)
    crc = init
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def word(dev, buf, i, what, init):
    """The 16-bit word at buf[i:i+2] after checking the CRC byte buf[i+2] (CRC
    started from `init`); a mismatch raises the device's SensorError naming `what`."""
    want = crc8(buf, i, i + 2, init)
    if buf[i + 2] != want:
        raise dev.error("CRC mismatch on %s word 0x%02x%02x (got 0x%02x, want 0x%02x)"
                        % (what, buf[i], buf[i + 1], buf[i + 2], want))
    return (buf[i] << 8) | buf[i + 1]
