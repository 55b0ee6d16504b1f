import ctypes, struct, os, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_bpf = 321
action = int(sys.argv[2]) if len(sys.argv) > 2 else 1
insns = struct.pack('<BBhi', 0xb7, 0, 0, action) + struct.pack('<BBhi', 0x95, 0, 0, 0)
ibuf = ctypes.create_string_buffer(insns)
lic = ctypes.create_string_buffer(b'GPL')
attr = ctypes.create_string_buffer(128)
# prog_type, insn_cnt, insns(u64), license(u64), log_level, log_size, log_buf(u64), kern_version
struct.pack_into('<IIQQIIQI', attr, 0, 6, 2, ctypes.addressof(ibuf), ctypes.addressof(lic), 0, 0, 0, 0)
fd = libc.syscall(SYS_bpf, 5, attr, 128)
if fd < 0: raise SystemExit('load: errno %d' % ctypes.get_errno())
path = ctypes.create_string_buffer(sys.argv[1].encode())
pin = ctypes.create_string_buffer(128)
struct.pack_into('<QI', pin, 0, ctypes.addressof(path), fd)
if libc.syscall(SYS_bpf, 6, pin, 128) < 0: raise SystemExit('pin: errno %d' % ctypes.get_errno())
print('pinned', sys.argv[1])
