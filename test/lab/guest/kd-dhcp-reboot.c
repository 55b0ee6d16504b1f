/*
 * kd-dhcp-reboot IFACE ADDRESS [CLIENT_ID_HEX]
 * A DHCP client's INIT-REBOOT (RFC 2131 4.3.2, 4.4.2): the client remembers ADDRESS from an earlier
 * lease and asks to keep it: a broadcast DHCPREQUEST with the address in option 50, no server id and
 * no ciaddr, from 0.0.0.0:68 (what ISC dhclient, Windows and NetworkManager do on boot with a lease on
 * file; busybox udhcpc never does it). Sent as a raw frame, so its source is 0.0.0.0 even when the
 * interface already has an address (as a client's own raw socket does); the answer, broadcast, comes
 * back to a UDP socket on port 68. Up to three tries, two seconds apart; prints what came back:
 * "ack SERVER", "nak SERVER" or "none".
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct bootp {
  uint8_t op, htype, hlen, hops;
  uint32_t xid;
  uint16_t secs, flags;
  uint32_t ciaddr, yiaddr, siaddr, giaddr;
  uint8_t chaddr[16];
  uint8_t sname[64], file[128];
  uint8_t options[312];
} __attribute__((packed));

static const uint8_t COOKIE[4] = {99, 130, 83, 99};

static int hexbyte(const char *s) {
  char b[3] = {s[0], s[1], 0};
  char *end;
  long v = strtol(b, &end, 16);
  return *end || !s[0] || !s[1] ? -1 : (int)v;
}

/* The value of option `code` in a reply's options, or NULL. */
static const uint8_t *option(const struct bootp *p, int len, int code, int *olen) {
  const uint8_t *o = p->options + 4, *end = (const uint8_t *)p + len;
  if (len < (int)offsetof(struct bootp, options) + 4 || memcmp(p->options, COOKIE, 4) != 0) return NULL;
  while (o < end && *o != 255) {
    if (*o == 0) { o++; continue; }
    if (o + 2 > end || o + 2 + o[1] > end) return NULL;
    if (*o == code) { *olen = o[1]; return o + 2; }
    o += 2 + o[1];
  }
  return NULL;
}

static uint16_t checksum(const void *data, size_t len) {
  const uint8_t *b = data;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(b[i] << 8 | b[i + 1]);
  if (len & 1) sum += (uint32_t)(b[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons((uint16_t)~sum);
}

/* The request as a broadcast frame from 0.0.0.0:68 to 255.255.255.255:67 (UDP checksum 0: optional in IPv4). */
static int send_frame(int raw, int ifindex, const struct bootp *req) {
  struct {
    struct iphdr ip;
    struct udphdr udp;
    struct bootp dhcp;
  } __attribute__((packed)) f;
  memset(&f, 0, sizeof f);
  f.ip.version = 4, f.ip.ihl = 5, f.ip.ttl = 64, f.ip.protocol = IPPROTO_UDP;
  f.ip.tot_len = htons(sizeof f);
  f.ip.saddr = INADDR_ANY, f.ip.daddr = INADDR_BROADCAST;
  f.ip.check = checksum(&f.ip, sizeof f.ip);
  f.udp.source = htons(68), f.udp.dest = htons(67), f.udp.len = htons(sizeof f.udp + sizeof f.dhcp);
  f.dhcp = *req;
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex, .sll_halen = 6};
  memset(to.sll_addr, 0xff, 6);
  return (int)sendto(raw, &f, sizeof f, 0, (struct sockaddr *)&to, sizeof to);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: kd-dhcp-reboot IFACE ADDRESS [CLIENT_ID_HEX]\n");
    return 2;
  }
  struct in_addr want;
  if (inet_pton(AF_INET, argv[2], &want) != 1) {
    fprintf(stderr, "kd-dhcp-reboot: not an IPv4 address: %s\n", argv[2]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0), raw = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP)), on = 1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (fd < 0 || raw < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    perror("kd-dhcp-reboot: interface");
    return 1;
  }
  int ifindex = (int)if_nametoindex(argv[1]);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, argv[1], strlen(argv[1])) < 0) {
    perror("kd-dhcp-reboot: SO_BINDTODEVICE");
    return 1;
  }
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(68), .sin_addr.s_addr = INADDR_ANY};
  if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
    perror("kd-dhcp-reboot: bind 0.0.0.0:68");
    return 1;
  }

  struct bootp req;
  memset(&req, 0, sizeof req);
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  req.op = 1, req.htype = 1, req.hlen = 6;
  req.xid = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
  /* Broadcast replies: the client has no address to receive a unicast on. */
  req.flags = htons(0x8000);
  memcpy(req.chaddr, ifr.ifr_hwaddr.sa_data, 6);
  uint8_t *o = req.options;
  memcpy(o, COOKIE, 4), o += 4;
  *o++ = 53, *o++ = 1, *o++ = 3; /* DHCPREQUEST */
  *o++ = 50, *o++ = 4, memcpy(o, &want, 4), o += 4;
  if (argc > 3) {
    size_t n = strlen(argv[3]) / 2;
    *o++ = 61, *o++ = (uint8_t)n;
    for (size_t i = 0; i < n && i < 64; i++) {
      int b = hexbyte(argv[3] + 2 * i);
      if (b < 0) {
        fprintf(stderr, "kd-dhcp-reboot: client id is not hex: %s\n", argv[3]);
        return 2;
      }
      *o++ = (uint8_t)b;
    }
  } else {
    *o++ = 61, *o++ = 7, *o++ = 1, memcpy(o, ifr.ifr_hwaddr.sa_data, 6), o += 6;
  }
  *o++ = 55, *o++ = 4, *o++ = 1, *o++ = 3, *o++ = 6, *o++ = 15;
  *o++ = 255;

  for (int attempt = 0; attempt < 3; attempt++) {
    if (send_frame(raw, ifindex, &req) < 0) {
      perror("kd-dhcp-reboot: send");
      return 1;
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      long left = 2000 - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) break;
      struct bootp reply;
      int len = (int)recv(fd, &reply, sizeof reply, 0), tlen = 0, slen = 0;
      if (len <= 0 || reply.op != 2 || reply.xid != req.xid || memcmp(reply.chaddr, req.chaddr, 6) != 0) continue;
      const uint8_t *type = option(&reply, len, 53, &tlen), *sid = option(&reply, len, 54, &slen);
      if (!type || tlen != 1 || (*type != 5 && *type != 6)) continue;
      char from[INET_ADDRSTRLEN] = "unknown";
      if (sid && slen == 4) inet_ntop(AF_INET, sid, from, sizeof from);
      printf("%s %s\n", *type == 5 ? "ack" : "nak", from);
      return 0;
    }
  }
  printf("none\n");
  return 0;
}
