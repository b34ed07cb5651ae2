"""The smbus2.SMBus methods of SimBus (CPython only: smbus2 is Linux i2c-dev).
Mixed into SimBus, built on its machine.I2C-style calls."""


class SMBusAPI:
    def read_byte(self, addr, force=None):
        return self.readfrom(addr, 1)[0]

    def write_byte(self, addr, value, force=None):
        self.writeto(addr, bytes((value,)))

    def write_quick(self, addr, force=None):
        self.writeto(addr, b"")

    def read_byte_data(self, addr, reg, force=None):
        return self.readfrom_mem(addr, reg, 1)[0]

    def write_byte_data(self, addr, reg, value, force=None):
        self.writeto(addr, bytes((reg, value)))

    def read_word_data(self, addr, reg, force=None):
        d = self.readfrom_mem(addr, reg, 2)
        return d[0] | (d[1] << 8)  # SMBus words travel low byte first

    def write_word_data(self, addr, reg, value, force=None):
        self.writeto(addr, bytes((reg, value & 0xFF, (value >> 8) & 0xFF)))

    def read_i2c_block_data(self, addr, reg, length, force=None):
        return list(self.readfrom_mem(addr, reg, length))

    def write_i2c_block_data(self, addr, reg, data, force=None):
        self.writeto(addr, bytes((reg,)) + bytes(data))

    def i2c_rdwr(self, *msgs):
        """smbus2.i2c_msg list: one transaction, repeated starts between messages."""
        last = len(msgs) - 1
        for i, msg in enumerate(msgs):
            if msg.flags & 1:  # I2C_M_RD
                data = self.readfrom(msg.addr, msg.len, i == last)
                for j in range(msg.len):
                    msg.buf[j] = data[j:j + 1]
            else:
                self.writeto(msg.addr, bytes(msg), i == last)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
