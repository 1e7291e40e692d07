/* A DPDK port as shiplogd uses it: one rx and one tx queue, buffered transmit. */
#define _GNU_SOURCE /* program_invocation_short_name: shiplogd or shiplog-bench-dpdk */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "port.h"

static void port_tx_error(struct rte_mbuf **unsent, uint16_t count, void *arg)
{
	struct port *p = arg;
	uint16_t sent = 0;

	/* A ring the peer is draining takes the rest a moment later: retry, bounded. */
	for (unsigned tries = 1; sent < count && tries < p->tx_tries; tries++)
		sent += rte_eth_tx_burst(p->id, 0, unsent + sent, (uint16_t)(count - sent));
	p->tx_dropped += count - sent;
	rte_pktmbuf_free_bulk(unsent + sent, count - sent);
}

static int port_find(const char *name, uint16_t *id)
{
	char *end;
	unsigned long v = strtoul(name, &end, 10);

	if (*name != '\0' && *end == '\0') {
		if (v >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port((uint16_t)v))
			return -ENODEV;
		*id = (uint16_t)v;
		return 0;
	}
	return rte_eth_dev_get_port_by_name(name, id) == 0 ? 0 : -ENODEV;
}

static int port_configure(struct port *p, const struct rte_eth_dev_info *info, uint16_t mtu)
{
	struct rte_eth_conf conf = { 0 };
	int rc;

	/* Only what every PMD of DESIGN.md §9 can do is required; offloads are taken when
	 * offered and the software path covers the rest. */
	if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		p->ip_csum_offload = true;
	}
	if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(p->id, 1, 1, &conf);
	if (rc < 0)
		return rc;
	/* Virtual devices may not let the MTU be set; what they carry is checked below. */
	rc = rte_eth_dev_set_mtu(p->id, mtu);
	if (rc < 0 && rc != -ENOTSUP && rc != -EINVAL)
		return rc;
	return 0;
}

int port_open(struct port *p, const char *name, uint8_t index, struct rte_mempool *pool,
	      uint16_t mtu, uint16_t rx_desc, uint16_t tx_desc)
{
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	int socket, rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->index = index;
	p->tx_tries = 1;
	rc = port_find(name, &p->id);
	if (rc < 0) {
		fprintf(stderr, "%s: port %s: no such DPDK port (check --vdev/-a)\n",
			program_invocation_short_name, name);
		return rc;
	}
	rc = rte_eth_dev_info_get(p->id, &info);
	if (rc < 0)
		goto out_err;
	p->max_frame = info.max_rx_pktlen;
	/* Every PMD of DESIGN.md §9 transmits chains even where it does not say so (they
	 * copy segment by segment); a real NIC must say so. */
	p->multi_seg = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) ||
		       strncmp(info.driver_name, "net_", 4) == 0;
	rc = port_configure(p, &info, mtu);
	if (rc < 0)
		goto out_err;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->id, &rx_desc, &tx_desc);
	socket = rte_eth_dev_socket_id(p->id);
	if (socket < 0)
		socket = 0;
	rc = rte_eth_rx_queue_setup(p->id, 0, rx_desc, (unsigned)socket, NULL, pool);
	if (rc < 0)
		goto out_err;
	rc = rte_eth_tx_queue_setup(p->id, 0, tx_desc, (unsigned)socket, NULL);
	if (rc < 0)
		goto out_err;
	p->txb = rte_zmalloc_socket("txb", RTE_ETH_TX_BUFFER_SIZE(32), 0, socket);
	if (!p->txb) {
		rc = -ENOMEM;
		goto out_err;
	}
	rte_eth_tx_buffer_init(p->txb, 32);
	rte_eth_tx_buffer_set_err_callback(p->txb, port_tx_error, p);
	rc = rte_eth_macaddr_get(p->id, &mac);
	if (rc < 0)
		goto out_free_txb;
	memcpy(p->local.mac, mac.addr_bytes, 6);
	/* Promiscuous mode is not needed: we answer to our MAC and to broadcast. */
	rc = rte_eth_dev_start(p->id);
	if (rc < 0)
		goto out_free_txb;
	return 0;

out_free_txb:
	rte_free(p->txb);
	p->txb = NULL;
out_err:
	fprintf(stderr, "%s: port %s: %s\n", program_invocation_short_name, name, strerror(-rc));
	return rc;
}

void port_close(struct port *p)
{
	if (!p->txb)
		return;
	port_flush(p);
	rte_eth_dev_stop(p->id);
	rte_eth_dev_close(p->id);
	rte_free(p->txb);
	p->txb = NULL;
}

int port_wait_link(const struct port *p, unsigned ms, const volatile sig_atomic_t *stop)
{
	uint64_t end = rte_get_tsc_cycles() + rte_get_tsc_hz() * ms / 1000;
	struct rte_eth_link link;

	do {
		if (rte_eth_link_get_nowait(p->id, &link) == 0 && link.link_status)
			return 0;
		rte_delay_us_sleep(10000);
	} while (rte_get_tsc_cycles() < end && !(stop && *stop));
	return stop && *stop ? -EINTR : -ETIMEDOUT;
}

uint16_t port_rx(struct port *p, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(p->id, 0, pkts, n);
}

void port_tx(struct port *p, struct rte_mbuf *m)
{
	rte_eth_tx_buffer(p->id, 0, p->txb, m);
}

uint16_t port_flush(struct port *p)
{
	return rte_eth_tx_buffer_flush(p->id, 0, p->txb);
}
