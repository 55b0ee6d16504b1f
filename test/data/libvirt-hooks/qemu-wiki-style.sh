#!/bin/bash
# A port-forwarding qemu hook in the shape of the libvirt wiki's "Forwarding Incoming Connections"
# example: variables at the top, the guest named in a test on $1, rules removed on stopped and
# added on start.
Guest_name=kdlab-web01
Guest_ipaddr=192.168.122.10
Host_ipaddr=198.51.100.1
Host_port=8080
Guest_port=80

if [ "${1}" = "${Guest_name}" ]; then
   if [ "${2}" = "stopped" ] || [ "${2}" = "reconnect" ]; then
        /sbin/iptables -D FORWARD -o virbr0 -p tcp -d $Guest_ipaddr --dport $Guest_port -j ACCEPT
        /sbin/iptables -t nat -D PREROUTING -d $Host_ipaddr -p tcp --dport $Host_port -j DNAT --to $Guest_ipaddr:$Guest_port
   fi
   if [ "${2}" = "start" ] || [ "${2}" = "reconnect" ]; then
        /sbin/iptables -I FORWARD -o virbr0 -p tcp -d $Guest_ipaddr --dport $Guest_port -j ACCEPT
        /sbin/iptables -t nat -I PREROUTING -d $Host_ipaddr -p tcp --dport $Host_port -j DNAT --to $Guest_ipaddr:$Guest_port
   fi
fi
