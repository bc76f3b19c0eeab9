/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The socket and TCP tapsets' C: the names SystemTap gives a socket's
 * protocol, family, state, type and flags, a message's flags, and TCP's
 * states and socket options, each against the kernel's own constant.
 * Numbers and names in, names and numbers out: nothing here reads
 * memory a script points at.
 */

#ifndef STP_TAPSET_SOCKET_H
#define STP_TAPSET_SOCKET_H

#include <linux/in.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/tcp.h>
#include <net/tcp_states.h>

struct stp_net_name {
	u64 num;
	const char *name;
};

/* IP protocols as /etc/protocols spells them. */
static const struct stp_net_name stp_sock_protocols[] __maybe_unused = {
	{ IPPROTO_IP, "IP" },		{ IPPROTO_ICMP, "ICMP" },
	{ IPPROTO_IGMP, "IGMP" },	{ IPPROTO_IPIP, "IPENCAP" },
	{ IPPROTO_TCP, "TCP" },		{ IPPROTO_EGP, "EGP" },
	{ IPPROTO_PUP, "PUP" },		{ IPPROTO_UDP, "UDP" },
	{ IPPROTO_IDP, "XNS-IDP" },	{ IPPROTO_TP, "ISO-TP4" },
	{ IPPROTO_DCCP, "DCCP" },	{ IPPROTO_IPV6, "IPV6" },
	{ IPPROTO_RSVP, "RSVP" },	{ IPPROTO_GRE, "GRE" },
	{ IPPROTO_ESP, "IPV6-CRYPT" },	{ IPPROTO_AH, "IPV6-AUTH" },
	{ IPPROTO_ICMPV6, "IPV6-ICMP" },	{ IPPROTO_MTP, "MTP" },
	{ IPPROTO_BEETPH, "IPIP" },	{ IPPROTO_ENCAP, "ENCAP" },
	{ IPPROTO_PIM, "PIM" },		{ IPPROTO_COMP, "IPCOMP" },
	{ IPPROTO_L2TP, "L2TP" },	{ IPPROTO_SCTP, "SCTP" },
	{ IPPROTO_UDPLITE, "UDPLite" },	{ IPPROTO_MPLS, "MPLS-IN-IP" },
	{ IPPROTO_ETHERNET, "ETHERNET" },	{ IPPROTO_RAW, "RAW" },
	{ IPPROTO_MPTCP, "MPTCP" },
};

/* Address families, AF_ left off. */
static const struct stp_net_name stp_sock_families[] __maybe_unused = {
	{ AF_UNSPEC, "UNSPEC" },	{ AF_LOCAL, "LOCAL" },
	{ AF_INET, "INET" },		{ AF_AX25, "AX25" },
	{ AF_IPX, "IPX" },		{ AF_APPLETALK, "APPLETALK" },
	{ AF_NETROM, "NETROM" },	{ AF_BRIDGE, "BRIDGE" },
	{ AF_ATMPVC, "ATMPVC" },	{ AF_X25, "X25" },
	{ AF_INET6, "INET6" },		{ AF_ROSE, "ROSE" },
	{ AF_DECnet, "DECNET" },	{ AF_NETBEUI, "NETBEUI" },
	{ AF_SECURITY, "SECURITY" },	{ AF_KEY, "KEY" },
	{ AF_NETLINK, "NETLINK" },	{ AF_PACKET, "PACKET" },
	{ AF_ASH, "ASH" },		{ AF_ECONET, "ECONET" },
	{ AF_ATMSVC, "ATMSVC" },	{ AF_RDS, "RDS" },
	{ AF_SNA, "SNA" },		{ AF_IRDA, "IRDA" },
	{ AF_PPPOX, "PPPOX" },		{ AF_WANPIPE, "WANPIPE" },
	{ AF_LLC, "LLC" },		{ AF_IB, "IB" },
	{ AF_MPLS, "MPLS" },		{ AF_CAN, "CAN" },
	{ AF_TIPC, "TIPC" },		{ AF_BLUETOOTH, "BLUETOOTH" },
	{ AF_IUCV, "IUCV" },		{ AF_RXRPC, "RXRPC" },
	{ AF_ISDN, "ISDN" },		{ AF_PHONET, "PHONET" },
	{ AF_IEEE802154, "IEEE802154" },	{ AF_CAIF, "CAIF" },
	{ AF_ALG, "ALG" },		{ AF_NFC, "NFC" },
	{ AF_VSOCK, "VSOCK" },		{ AF_KCM, "KCM" },
	{ AF_QIPCRTR, "QIPCRTR" },	{ AF_SMC, "SMC" },
	{ AF_XDP, "XDP" },		{ AF_MCTP, "MCTP" },
};

/* socket_state, SS_ left off. */
static const struct stp_net_name stp_sock_states[] __maybe_unused = {
	{ SS_FREE, "FREE" },		{ SS_UNCONNECTED, "UNCONNECTED" },
	{ SS_CONNECTING, "CONNECTING" },	{ SS_CONNECTED, "CONNECTED" },
	{ SS_DISCONNECTING, "DISCONNECTING" },
};

/* enum sock_type, SOCK_ left off. */
static const struct stp_net_name stp_sock_types[] __maybe_unused = {
	{ SOCK_STREAM, "STREAM" },	{ SOCK_DGRAM, "DGRAM" },
	{ SOCK_RAW, "RAW" },		{ SOCK_RDM, "RDM" },
	{ SOCK_SEQPACKET, "SEQPACKET" },	{ SOCK_DCCP, "DCCP" },
	{ SOCK_PACKET, "PACKET" },
};

/* struct socket's flags: bit numbers. */
static const struct stp_net_name stp_sock_flag_bits[] __maybe_unused = {
	{ SOCKWQ_ASYNC_NOSPACE, "ASYNC_NOSPACE" },
	{ SOCKWQ_ASYNC_WAITDATA, "ASYNC_WAITDATA" },
	{ SOCK_NOSPACE, "NOSPACE" },	{ SOCK_PASSCRED, "PASSCRED" },
	{ SOCK_PASSSEC, "PASSSEC" },
};

/* A message's flags: masks, MSG_ left off. */
static const struct stp_net_name stp_msg_flags[] __maybe_unused = {
	{ MSG_OOB, "OOB" },		{ MSG_PEEK, "PEEK" },
	{ MSG_DONTROUTE, "DONTROUTE" },	{ MSG_TRYHARD, "TRYHARD" },
	{ MSG_CTRUNC, "CTRUNC" },	{ MSG_PROBE, "PROBE" },
	{ MSG_TRUNC, "TRUNC" },		{ MSG_DONTWAIT, "DONTWAIT" },
	{ MSG_EOR, "EOR" },		{ MSG_WAITALL, "WAITALL" },
	{ MSG_FIN, "FIN" },		{ MSG_SYN, "SYN" },
	{ MSG_CONFIRM, "CONFIRM" },	{ MSG_RST, "RST" },
	{ MSG_ERRQUEUE, "ERRQUEUE" },	{ MSG_NOSIGNAL, "NOSIGNAL" },
	{ MSG_MORE, "MORE" },		{ MSG_WAITFORONE, "WAITFORONE" },
	{ MSG_BATCH, "BATCH" },		{ MSG_ZEROCOPY, "ZEROCOPY" },
	{ MSG_FASTOPEN, "FASTOPEN" },	{ MSG_CMSG_CLOEXEC, "CMSG_CLOEXEC" },
};

/* TCP's states (sk_state), with their TCP_ prefix. */
static const struct stp_net_name stp_tcp_states[] __maybe_unused = {
	{ TCP_ESTABLISHED, "TCP_ESTABLISHED" },	{ TCP_SYN_SENT, "TCP_SYN_SENT" },
	{ TCP_SYN_RECV, "TCP_SYN_RECV" },	{ TCP_FIN_WAIT1, "TCP_FIN_WAIT1" },
	{ TCP_FIN_WAIT2, "TCP_FIN_WAIT2" },	{ TCP_TIME_WAIT, "TCP_TIME_WAIT" },
	{ TCP_CLOSE, "TCP_CLOSE" },		{ TCP_CLOSE_WAIT, "TCP_CLOSE_WAIT" },
	{ TCP_LAST_ACK, "TCP_LAST_ACK" },	{ TCP_LISTEN, "TCP_LISTEN" },
	{ TCP_CLOSING, "TCP_CLOSING" },		{ TCP_NEW_SYN_RECV, "TCP_NEW_SYN_RECV" },
};

/* TCP's socket options (level SOL_TCP), with their TCP_ prefix. */
static const struct stp_net_name stp_tcp_sockopts[] __maybe_unused = {
	{ TCP_NODELAY, "TCP_NODELAY" },		{ TCP_MAXSEG, "TCP_MAXSEG" },
	{ TCP_CORK, "TCP_CORK" },		{ TCP_KEEPIDLE, "TCP_KEEPIDLE" },
	{ TCP_KEEPINTVL, "TCP_KEEPINTVL" },	{ TCP_KEEPCNT, "TCP_KEEPCNT" },
	{ TCP_SYNCNT, "TCP_SYNCNT" },		{ TCP_LINGER2, "TCP_LINGER2" },
	{ TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT" },
	{ TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP" },
	{ TCP_INFO, "TCP_INFO" },		{ TCP_QUICKACK, "TCP_QUICKACK" },
	{ TCP_CONGESTION, "TCP_CONGESTION" },	{ TCP_MD5SIG, "TCP_MD5SIG" },
	{ TCP_THIN_LINEAR_TIMEOUTS, "TCP_THIN_LINEAR_TIMEOUTS" },
	{ TCP_THIN_DUPACK, "TCP_THIN_DUPACK" },
	{ TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT" },
};

/* The name of @num in a table, or @dflt. */
#define stp_net_name_of(table, num, dflt) \
	stp_net_lookup(table, ARRAY_SIZE(table), num, dflt)

static __maybe_unused const char *stp_net_lookup(const struct stp_net_name *t, size_t n,
						 s64 num, const char *dflt)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].num == (u64)num)
			return t[i].name;
	return dflt;
}

/* The number named @name in a table, or -1. */
#define stp_net_num_of(table, name) stp_net_number(table, ARRAY_SIZE(table), name)

static __maybe_unused s64 stp_net_number(const struct stp_net_name *t, size_t n,
					 const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return t[i].num;
	return -1;
}

/*
 * The names of the flags set in @value, joined by '|' ("" for none):
 * @table's numbers are masks, or bit numbers if @bits.
 */
#define stp_net_flags_of(buf, table, value, bits) \
	stp_net_flags(buf, table, ARRAY_SIZE(table), value, bits)

static __maybe_unused char *stp_net_flags(char *buf, const struct stp_net_name *t, size_t n,
					  u64 value, bool bits)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		u64 mask = bits ? BIT_ULL(t[i].num) : t[i].num;

		if (value & mask)
			at += scnprintf(buf + at, MAXSTRINGLEN - at, "%s%s", at ? "|" : "",
					t[i].name);
	}
	return buf;
}

#endif
