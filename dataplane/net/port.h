/* A DPDK port as shiplogd uses it: one rx and one tx queue, buffered transmit. */
#ifndef SHIPLOG_NET_PORT_H
#define SHIPLOG_NET_PORT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_eth_dev_tx_buffer;

struct port {
	uint16_t id;
	uint8_t index; /* position in the configuration's port list */
	char name[64];
	struct net_local local;
	bool ip_csum_offload; /* the port fills the IPv4 header checksum */
	bool multi_seg;	      /* the port transmits chained mbufs */
	uint32_t max_frame;   /* largest Ethernet frame it takes */
	struct rte_eth_dev_tx_buffer *txb;
	/* tx_burst calls for a burst before what a full ring left is dropped: port_open sets
	 * 1 (shiplogd's retransmissions cover a drop); a caller may raise it after. */
	uint16_t tx_tries;
	uint64_t tx_dropped; /* counted by the tx buffer's error callback */
};

/*
 * Finds the port by name (a --vdev or device name) or number, configures one rx and one
 * tx queue over pool, enables what offloads it has, and starts it. 0 or -errno with a
 * message on stderr.
 */
int port_open(struct port *p, const char *name, uint8_t index, struct rte_mempool *pool,
	      uint16_t mtu, uint16_t rx_desc, uint16_t tx_desc);
void port_close(struct port *p);
/*
 * Waits until the link is up (a memif link: once its peer has connected), polling every
 * 10 ms, for at most ms milliseconds or until *stop is set (stop may be NULL). 0 or
 * -ETIMEDOUT (-EINTR when stopped).
 */
int port_wait_link(const struct port *p, unsigned ms, const volatile sig_atomic_t *stop);

uint16_t port_rx(struct port *p, struct rte_mbuf **pkts, uint16_t n);
/* Queues m for transmission (sent when the buffer fills or at port_flush). */
void port_tx(struct port *p, struct rte_mbuf *m);
/* Sends what is buffered: packets the first tx_burst took (what a full ring left is
 * retried up to tx_tries, then dropped and counted in tx_dropped). */
uint16_t port_flush(struct port *p);

#endif
