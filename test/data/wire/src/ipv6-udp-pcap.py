#!/usr/bin/env python3
"""Writes a pcap of a guest's IPv6 UDP/TCP frames (DHCPv6 SOLICIT and mDNS from its link-local
address, a TCP SYN from a documentation address), read back by tcpdump with kvmdoctor's quiet
capture options: tcpdump prints an IPv6 address and its port joined by a dot ("fe80::1.546").
Usage: ipv6-udp-pcap.py OUT.pcap; then
  tcpdump -r OUT.pcap -n -e -q -s 96 'ether src 52:54:00:aa:00:02 and not (arp or icmp6 or udp port 67 or udp port 68)'"""
import socket
import struct
import sys

MAC = bytes.fromhex('525400aa0002')


def ipv6(src, dst, next_header, payload):
    return struct.pack('!IHBB', 6 << 28, len(payload), next_header, 255 if next_header == 58 else 1) + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + payload


def udp(sport, dport, body):
    return struct.pack('!HHHH', sport, dport, 8 + len(body), 0) + body


def tcp_syn(sport, dport):
    return struct.pack('!HHIIBBHHH', sport, dport, 1, 0, 5 << 4, 0x02, 64240, 0, 0)


def frame(dst_mac, packet):
    return dst_mac + MAC + b'\x86\xdd' + packet


LL = 'fe80::5054:ff:feaa:2'
frames = [
    # DHCPv6 SOLICIT (message type 1, transaction id, no options)
    frame(bytes.fromhex('333300010002'), ipv6(LL, 'ff02::1:2', 17, udp(546, 547, bytes([1, 0x12, 0x34, 0x56])))),
    # mDNS query header only
    frame(bytes.fromhex('3333000000fb'), ipv6(LL, 'ff02::fb', 17, udp(5353, 5353, bytes(12)))),
    # TCP SYN from a global (documentation) address
    frame(bytes.fromhex('525400aa0001'), ipv6('2001:db8::2', '2001:db8::1', 6, tcp_syn(40000, 80))),
]
with open(sys.argv[1], 'wb') as out:
    out.write(struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        out.write(struct.pack('<IIII', 1700000000 + i, 0, len(f), len(f)) + f)
