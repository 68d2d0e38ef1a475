// Setting up nvgre-dpdk's ethdev ports and mbuf pools, shared by the switch (main.cpp) and the
// bench (bench.cpp).
#pragma once

#include "switch.hpp"

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <net/if.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nvgre_dpdk {

inline constexpr std::uint16_t rx_descriptors = 512;
inline constexpr std::uint16_t tx_descriptors = 512;
inline constexpr unsigned mempool_cache = 256;  ///< mbufs each lcore keeps at hand

/// The transmit offloads nvgre-dpdk can use when a port has them.
inline constexpr std::uint64_t wanted_tx_offloads =
    RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
    RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO;

/// The switch's mbuf pools: `standard` (2 KB of data behind 128 bytes of headroom: receive
/// buffers, copies and clones) and, when the underlay MTU makes software segments or fragments
/// bigger than that, `large` for those pieces only.
struct pools {
    rte_mempool* standard{nullptr};
    rte_mempool* large{nullptr};

    std::optional<std::string> create(std::size_t ports, unsigned workers, std::size_t underlay_mtu,
                                      std::uint16_t private_size = 0, unsigned extra = 0) {
        // Every rx and tx ring full, each worker's bursts and tx queues, and the mempool caches.
        const std::size_t rings = ports * workers * (std::size_t{rx_descriptors} + tx_descriptors);
        const std::size_t per_worker = tx_queue_depth * max_ports + 2 * std::size_t{mempool_cache};
        const auto count = static_cast<unsigned>(rings + workers * per_worker + extra + 1023);
        standard = rte_pktmbuf_pool_create("nvgre_mbufs", count, mempool_cache, private_size, RTE_MBUF_DEFAULT_BUF_SIZE,
                                           static_cast<int>(rte_socket_id()));
        if (standard == nullptr)
            return std::string("cannot make the mbuf pool (") + std::to_string(count) + " mbufs): " + rte_strerror(rte_errno) +
                   " (give EAL more memory: -m MB)";
        // A piece of a segmented or fragmented packet: the underlay MTU, an inner Ethernet header
        // with a tag, behind the recommended headroom.
        const std::size_t piece = underlay_mtu + 18 + dp::recommended_headroom;
        if (piece > RTE_MBUF_DEFAULT_BUF_SIZE) {
            large = rte_pktmbuf_pool_create("nvgre_large", 1023, 32, 0, static_cast<std::uint16_t>(std::min<std::size_t>(piece, 65535)),
                                            static_cast<int>(rte_socket_id()));
            if (large == nullptr) return std::string("cannot make the pool of large mbufs: ") + rte_strerror(rte_errno);
        }
        return std::nullopt;
    }
};

/// Configures and starts port `p` with `queues` rx and tx queues: the transmit offloads it
/// has of wanted_tx_offloads, and on a fabric port with several queues RSS — by the inner
/// headers (RTE_ETH_RSS_LEVEL_INNERMOST) when the PMD takes that, else by the outer ones.
inline std::optional<std::string> setup_port(port& p, std::uint16_t queues, rte_mempool* pool) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(p.id, &info) != 0) return "port " + p.name + ": no device info";
    if (info.max_rx_queues < queues || info.max_tx_queues < queues)
        return "port " + p.name + " has " + std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) + " queue(s); " +
               std::to_string(queues) + " workers need " + std::to_string(queues) + " (net_af_packet: qpairs=" +
               std::to_string(queues) + ")";
    rte_eth_conf conf{};
    conf.txmode.offloads = info.tx_offload_capa & wanted_tx_offloads;
    const std::uint64_t hash = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    if (p.fabric && queues > 1 && hash != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = hash | RTE_ETH_RSS_LEVEL_INNERMOST;
        p.rss = "inner headers";
    }
    int rc = rte_eth_dev_configure(p.id, queues, queues, &conf);
    if (rc != 0 && conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS) {  // no inner hash here: the outer one
        conf.rx_adv_conf.rss_conf.rss_hf = hash;
        p.rss = "outer headers";
        rc = rte_eth_dev_configure(p.id, queues, queues, &conf);
    }
    if (rc != 0) return "port " + p.name + ": configure: " + rte_strerror(-rc);
    std::uint16_t rxd = rx_descriptors, txd = tx_descriptors;
    (void)rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &rxd, &txd);
    const int socket = rte_eth_dev_socket_id(p.id);
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    for (std::uint16_t q = 0; q < queues; ++q) {
        if ((rc = rte_eth_rx_queue_setup(p.id, q, rxd, static_cast<unsigned>(socket), nullptr, pool)) != 0)
            return "port " + p.name + ": rx queue " + std::to_string(q) + ": " + rte_strerror(-rc);
        if ((rc = rte_eth_tx_queue_setup(p.id, q, txd, static_cast<unsigned>(socket), &txconf)) != 0)
            return "port " + p.name + ": tx queue " + std::to_string(q) + ": " + rte_strerror(-rc);
    }
    (void)rte_eth_promiscuous_enable(p.id);  // a VM port sees frames for any MAC (where the PMD filters)
    if ((rc = rte_eth_dev_start(p.id)) != 0) return "port " + p.name + ": start: " + rte_strerror(-rc);
    p.tx_capa = conf.txmode.offloads;
    return std::nullopt;
}

/// The ethdev name of the net_af_packet port on Linux interface `iface` (attach gives it; the
/// demo's --vdev options use it too).
inline std::string af_packet_name(const std::string& iface) { return "net_af_packet_" + iface; }

/// The Linux interface port `id` is on — its devargs' iface= (net_af_packet, net_af_xdp) — or "".
inline std::string interface_of(std::uint16_t id) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(id, &info) != 0 || info.device == nullptr) return {};
    const rte_devargs* devargs = rte_dev_devargs(info.device);
    if (devargs == nullptr || devargs->args == nullptr) return {};
    // "iface=fab0,qpairs=2,qdisc_bypass=0"
    std::string_view args = devargs->args;
    while (!args.empty()) {
        const std::string_view pair = args.substr(0, args.find(','));
        if (pair.starts_with("iface=")) return std::string(pair.substr(6));
        args.remove_prefix(std::min(args.size(), pair.size() + 1));
    }
    return {};
}

/// Probes a net_af_packet port on Linux interface `iface` with `queues` queue pairs, as the
/// demo's --vdev options make its VM ports (qdisc_bypass=0: the driver's transmissions pass
/// the kernel's packet taps, so captures see both directions); its port id in `id`. Not set
/// up (setup_port). On failure, why.
inline std::optional<std::string> probe_af_packet(const std::string& iface, std::uint16_t queues, std::uint16_t& id) {
    // The driver's own complaint about a missing interface is a log line of several; ours is one.
    if (if_nametoindex(iface.c_str()) == 0) return "no interface '" + iface + "'";
    const std::string name = af_packet_name(iface);
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) return "DPDK port '" + name + "' exists already";
    const std::string devargs = name + ",iface=" + iface + ",qpairs=" + std::to_string(queues) + ",qdisc_bypass=0";
    if (const int rc = rte_dev_probe(devargs.c_str()); rc != 0)
        return "cannot probe '" + devargs + "': " + rte_strerror(-rc);
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) return "probed '" + devargs + "' but found no port '" + name + "'";
    return std::nullopt;
}

/// Stops and closes port `id` and removes its device (a vdev's driver lets go of its
/// interface); the port id and name are free again afterwards.
inline void remove_port(std::uint16_t id) {
    rte_eth_dev_info info{};
    rte_device* device = rte_eth_dev_info_get(id, &info) == 0 ? info.device : nullptr;
    (void)rte_eth_dev_stop(id);
    (void)rte_eth_dev_close(id);
    // The bus keeps the device after its ethdev is closed: removing it frees the name.
    if (device != nullptr) (void)rte_dev_remove(device);
}

/// What the pipelines leave to the fabric port's NIC: the outer IPv4 checksum when it computes
/// one; the VMs' partial TCP/UDP checksums, and the segmentation of their TSO sends, when it
/// computes them inside GRE (a port that segments GRE tunnels parses them). A port without
/// these gets finished frames: the pipelines do the work in software.
inline void offloads_into(dp::pipeline_config& cfg, const port& fabric) noexcept {
    const std::uint64_t c = fabric.tx_capa;
    cfg.outer_ipv4_checksum_by_hardware = (c & RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM) != 0;
    const std::uint64_t inner = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO;
    cfg.inner_checksum_by_hardware = (c & inner) == inner;
    cfg.segmentation_by_hardware = cfg.inner_checksum_by_hardware;
}

inline std::string offload_summary(const dp::pipeline_config& cfg, const port& fabric) {
    return std::string("outer IPv4 checksum ") + (cfg.outer_ipv4_checksum_by_hardware ? "NIC" : "software") +
           ", inner checksums " + (cfg.inner_checksum_by_hardware ? "NIC" : "software") + ", TSO " +
           (cfg.segmentation_by_hardware ? "NIC" : "software") + ", RSS " +
           (fabric.rss.empty() ? "none (the PMD spreads: net_af_packet by the kernel's fanout hash)" : fabric.rss);
}

}  // namespace nvgre_dpdk
