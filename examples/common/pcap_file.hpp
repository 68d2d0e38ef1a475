/// @file examples/common/pcap_file.hpp
/// @brief Reading and writing capture files for the examples: RAII, no exceptions, errors as
/// one-line messages.
///
/// `pcap_reader` reads pcap and pcapng files of any link type and says, for every packet, the
/// link type it was captured with; `pcap_writer` writes classic pcap files with link type
/// Ethernet. Frames are byte spans without FCS, as the library expects. `decode_link_header`
/// finds the network layer behind the link-layer headers that tcpdump and Wireshark write
/// (Linux cooked v1 and v2, BSD loopback, raw IP). This is example code, not part of the
/// library: the library itself never does I/O.
///
/// Which reader, and why. libpcap reads every classic pcap file, and every pcapng file whose
/// interfaces all share one link type and one snapshot length; the examples use it for those.
/// libpcap 1.10 (Debian 12's) refuses the rest ("an interface has a snapshot length ...
/// different from the snapshot length of the first interface"), and Wireshark writes them: one
/// interface description per capture interface, each with its own snapshot length or link type.
/// For those files only (a pre-scan of the interface descriptions decides, before anything is
/// read) the reader is pcapng_reader.hpp, a small block reader of this project: Debian packages
/// no other pcapng reader library (`apt-cache search pcapng`: DPDK's writer and pcapfix), and
/// libwiretap (libwiretap-dev), which reads all Wireshark writes, is GPL-2.0-or-later (it would
/// put these Apache-2.0 programs under the GPL), pulls in GLib and Wireshark's plugin set-up,
/// and its API is Wireshark's internal one, changed from release to release. The block reader
/// is bounds-checked field by field and fuzzed (tests/fuzz/pcapng_reader.fuzz.cpp). A
/// pcapng file read from stdin ("-") or a pipe cannot be pre-scanned, so it is libpcap's alone.
#pragma once

#include "pcapng_reader.hpp"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace example {

/// A capture timestamp (microsecond precision, as libpcap reads files by default).
struct pcap_timestamp {
    std::int64_t sec{0};
    std::uint32_t usec{0};
};

/// One frame read from a file. `bytes` holds the captured bytes (which may be fewer than
/// `original_len` when the capture was snapped) and stays valid until the next read.
struct pcap_frame {
    std::span<const std::byte> bytes;
    std::uint32_t original_len{0};
    pcap_timestamp ts;
    /// The LINKTYPE_ value of the interface it was captured on (1 = Ethernet, 101 = raw IP...).
    std::uint32_t link_type{1};
};

/// LINKTYPE_ values (the numbers in files, the same on every platform; libpcap's DLT_ values
/// differ for a few, e.g. DLT_RAW is 12 or 14, LINKTYPE_RAW 101).
namespace linktype {
inline constexpr std::uint32_t null = 0;        ///< BSD loopback: 4-byte address family, host order
inline constexpr std::uint32_t ethernet = 1;
inline constexpr std::uint32_t raw = 101;       ///< IPv4 or IPv6, by the version nibble
inline constexpr std::uint32_t loop = 108;      ///< OpenBSD loopback: 4-byte address family, network order
inline constexpr std::uint32_t linux_sll = 113; ///< Linux cooked capture v1 (tcpdump -i any, before 4.99)
inline constexpr std::uint32_t ipv4 = 228;
inline constexpr std::uint32_t ipv6 = 229;
inline constexpr std::uint32_t linux_sll2 = 276;///< Linux cooked capture v2 (tcpdump -i any)
}  // namespace linktype

namespace detail {
/// libpcap error texts are one line, but keep a stray trailing newline out of our one-line messages.
inline std::string one_line(const char* text) {
    std::string s = text != nullptr ? text : "unknown libpcap error";
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}
}  // namespace detail

/// The LINKTYPE_ value of a DLT_ value libpcap reports.
inline std::uint32_t linktype_of_dlt(int dlt) noexcept {
    if (dlt == DLT_RAW) return linktype::raw;
#ifdef DLT_LOOP
    if (dlt == DLT_LOOP) return linktype::loop;
#endif
    return static_cast<std::uint32_t>(dlt);
}

/// "RAW (101)": libpcap's name of a link type and its LINKTYPE_ number.
inline std::string link_type_name(std::uint32_t link_type) {
    int dlt = static_cast<int>(link_type);
    if (link_type == linktype::raw) dlt = DLT_RAW;
#ifdef DLT_LOOP
    if (link_type == linktype::loop) dlt = DLT_LOOP;
#endif
    const char* name = link_type <= 0xffffu ? pcap_datalink_val_to_name(dlt) : nullptr;
    return (name != nullptr ? std::string(name) + " " : std::string()) + "(" + std::to_string(link_type) + ")";
}

/// Reads the frames of a pcap or pcapng file.
///
/// Construction opens the file; when `ok()` is false, `error()` says why in one line, e.g.
/// "unknown file format". With `ethernet_for` (a command name), a capture with any interface
/// of another link type is refused too: "link type RAW (101); egress needs Ethernet (1)".
class pcap_reader {
public:
    explicit pcap_reader(const std::string& path, std::string_view ethernet_for = {}) : ethernet_for_(ethernet_for) {
        if (path != "-" && open_own_pcapng(path)) {
            if (!error_.empty()) return;
        } else {
            char errbuf[PCAP_ERRBUF_SIZE] = {};
            handle_ = pcap_open_offline(path.c_str(), errbuf);
            if (handle_ == nullptr) {
                error_ = detail::one_line(errbuf);
                return;
            }
            link_types_.push_back(linktype_of_dlt(pcap_datalink(handle_)));
        }
        for (const std::uint32_t t : link_types_)
            if (!ethernet_for_.empty() && t != linktype::ethernet) {
                error_ = needs_ethernet(t);
                close();
                return;
            }
    }
    pcap_reader(const pcap_reader&) = delete;
    pcap_reader& operator=(const pcap_reader&) = delete;
    pcap_reader(pcap_reader&&) = delete;
    pcap_reader& operator=(pcap_reader&&) = delete;
    ~pcap_reader() { close(); }

    /// True while the file is open and no error happened.
    [[nodiscard]] bool ok() const noexcept { return (handle_ != nullptr || own_.has_value()) && error_.empty(); }
    /// Why opening or the last read failed; empty when nothing failed.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    /// The link types the file declares (one for classic pcap; every interface's for pcapng,
    /// as far as the pre-scan found the file well formed).
    [[nodiscard]] const std::vector<std::uint32_t>& link_types() const noexcept { return link_types_; }

    /// Reads the next frame into `out`. Returns false at the end of the file, or on an error
    /// (then `error()` is not empty, e.g. for a file cut short in the middle of a record).
    /// The bytes of `out` stay valid until the next call.
    bool next(pcap_frame& out) {
        if (!ok()) return false;
        if (own_) {
            pcapng::packet p;
            const auto s = own_->next(p);
            if (s == pcapng::block_reader::step::error) error_ = own_->error();
            if (s != pcapng::block_reader::step::packet) return false;
            out.bytes = p.bytes;
            out.original_len = p.original_len;
            out.ts = pcap_timestamp{p.sec, p.usec};
            out.link_type = p.link_type;
            // The pre-scan saw every interface unless the file broke off first.
            if (!ethernet_for_.empty() && out.link_type != linktype::ethernet) {
                error_ = "interface " + std::to_string(p.interface_id) + ": " + needs_ethernet(out.link_type);
                return false;
            }
            return true;
        }
        pcap_pkthdr* header = nullptr;
        const u_char* data = nullptr;
        const int rc = pcap_next_ex(handle_, &header, &data);
        if (rc == 1) {
            // caplen never exceeds the snapshot length libpcap allocated for the record.
            out.bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), header->caplen);
            out.original_len = header->len;
            out.ts = pcap_timestamp{static_cast<std::int64_t>(header->ts.tv_sec), static_cast<std::uint32_t>(header->ts.tv_usec)};
            out.link_type = link_types_.front();
            return true;
        }
        if (rc == PCAP_ERROR_BREAK) return false;  // end of file
        error_ = detail::one_line(pcap_geterr(handle_));
        return false;
    }

private:
    /// A pcapng file whose interfaces disagree goes to the block reader (see the file comment):
    /// true when it does (error_ set if even that failed); false leaves the file to libpcap.
    bool open_own_pcapng(const std::string& path) {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (f == nullptr) return false;  // libpcap says why, in its words
        // Only a regular file can be pre-scanned and read again: reading from a pipe
        // (`show <(zcat x.pcap.gz)`) would take the bytes libpcap needs.
        struct stat st {};
        if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
            std::fclose(f);
            return false;
        }
        unsigned char magic[4] = {};
        pcapng::scan_result scan;
        const bool pcapng_file = std::fread(magic, 1, sizeof magic, f) == sizeof magic &&
                                 std::memcmp(magic, "\x0a\x0d\x0d\x0a", 4) == 0;
        if (pcapng_file) {
            std::rewind(f);
            scan = pcapng::scan(f);
        }
        if (!pcapng_file || scan.interfaces_agree() || std::fseek(f, 0, SEEK_SET) != 0) {
            std::fclose(f);
            return false;
        }
        file_ = f;
        own_.emplace(f);
        for (const pcapng::interface_info& i : scan.interfaces) {
            bool seen = false;
            for (const std::uint32_t t : link_types_) seen = seen || t == i.link_type;
            if (!seen) link_types_.push_back(i.link_type);
        }
        return true;
    }

    [[nodiscard]] std::string needs_ethernet(std::uint32_t link_type) const {
        return "link type " + link_type_name(link_type) + "; " + std::string(ethernet_for_) + " needs Ethernet (1)";
    }

    void close() noexcept {
        if (handle_ != nullptr) pcap_close(handle_);
        handle_ = nullptr;
        own_.reset();
        if (file_ != nullptr) std::fclose(file_);
        file_ = nullptr;
    }

    pcap_t* handle_{nullptr};               // libpcap's reader, or
    std::FILE* file_{nullptr};              // the file of
    std::optional<pcapng::block_reader> own_;  // the block reader
    std::string ethernet_for_;
    std::vector<std::uint32_t> link_types_;
    std::string error_;
};

/// Where the network layer of a captured packet starts, behind its link-layer header.
struct link_header {
    enum class status : std::uint8_t {
        ethernet,     ///< an Ethernet frame: the library parses it as it is
        network,      ///< `ether_type` names the protocol at byte `length`
        truncated,    ///< the packet ends inside the link-layer header
        not_network,  ///< a protocol or address family with no EtherType (`description` says which)
        unsupported,  ///< a link type this reader does not decode
    };
    status what{status::unsupported};
    std::uint32_t length{0};           ///< bytes of link-layer header
    std::uint16_t ether_type{0};       ///< for `network`
    std::uint32_t protocol_offset{0};  ///< where the field that named the protocol is (for error offsets)
    std::string_view layer;            ///< the header's name, e.g. "linux-sll"
    std::string description;           ///< for not_network and unsupported
};

namespace detail {
inline std::uint16_t be16(std::span<const std::byte> b, std::size_t at) noexcept {
    return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[at]) << 8 | std::to_integer<unsigned>(b[at + 1]));
}
inline std::string hex16(std::uint32_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", static_cast<unsigned>(v & 0xffffu));
    return buf;
}
}  // namespace detail

/// Decodes the link-layer header of a packet captured with `link_type`. The formats, as
/// tcpdump and Wireshark write them:
/// - LINUX_SLL (113), 16 bytes: packet type, ARPHRD type (bytes 2-3), address length and
///   address, protocol (bytes 14-15, an EtherType; below 0x0600 a Linux protocol number);
/// - LINUX_SLL2 (276), 20 bytes: protocol (bytes 0-1), reserved, interface index, ARPHRD type
///   (bytes 8-9), packet type, address length and address;
/// - NULL (0), 4 bytes: the address family in the capturing host's byte order (2 IPv4; 24, 28
///   or 30 IPv6, by BSD flavour); LOOP (108): the same in network byte order;
/// - RAW (101), IPV4 (228), IPV6 (229): no header; RAW's version nibble says which IP.
/// Never reads outside `packet`.
inline link_header decode_link_header(std::uint32_t link_type, std::span<const std::byte> packet) {
    link_header h;
    // ARPHRD_NETLINK: the protocol field is a netlink family, not an EtherType.
    constexpr std::uint16_t arphrd_netlink = 824;
    auto cooked = [&](std::string_view layer, std::uint32_t len, std::uint32_t proto_at, std::uint32_t hatype_at) {
        h.layer = layer;
        h.length = len;
        h.protocol_offset = proto_at;
        if (packet.size() < len) {
            h.what = link_header::status::truncated;
            return;
        }
        const std::uint16_t proto = detail::be16(packet, proto_at);
        if (detail::be16(packet, hatype_at) == arphrd_netlink) {
            h.what = link_header::status::not_network;
            h.description = std::string(layer) + " netlink family " + std::to_string(proto);
        } else if (proto < 0x0600) {
            h.what = link_header::status::not_network;
            h.description = std::string(layer) + " protocol " + detail::hex16(proto);
        } else {
            h.what = link_header::status::network;
            h.ether_type = proto;
        }
    };
    auto family = [&](std::string_view layer, bool host_order) {
        h.layer = layer;
        h.length = 4;
        h.protocol_offset = 0;
        if (packet.size() < 4) {
            h.what = link_header::status::truncated;
            return;
        }
        const std::uint32_t be = std::uint32_t{detail::be16(packet, 0)} << 16 | detail::be16(packet, 2);
        std::uint32_t af = be;
        // Host order of an unknown host: families are small, so a value with its high half
        // set was written little-endian (what Wireshark and tcpdump assume too).
        if (host_order && (be & 0xffff0000u) != 0) af = __builtin_bswap32(be);
        if (af == 2) {
            h.what = link_header::status::network;
            h.ether_type = 0x0800;
        } else if (af == 24 || af == 28 || af == 30) {
            h.what = link_header::status::network;
            h.ether_type = 0x86dd;
        } else {
            h.what = link_header::status::not_network;
            h.description = std::string(layer) + " family " + std::to_string(af);
        }
    };
    switch (link_type) {
        case linktype::ethernet: h.what = link_header::status::ethernet; h.layer = "ethernet"; break;
        case linktype::linux_sll: cooked("linux-sll", 16, 14, 2); break;
        case linktype::linux_sll2: cooked("linux-sll2", 20, 0, 8); break;
        case linktype::null: family("null", true); break;
        case linktype::loop: family("loop", false); break;
        case linktype::raw:
        case linktype::ipv4:
        case linktype::ipv6:
            h.layer = "raw";
            h.what = link_header::status::network;
            // An empty or non-IPv6 raw packet goes to the IPv4 parser, which names what is wrong
            // with it (truncated, bad-version).
            h.ether_type = link_type == linktype::ipv6 ||
                                   (link_type == linktype::raw && !packet.empty() && (std::to_integer<unsigned>(packet[0]) >> 4) == 6)
                               ? std::uint16_t{0x86dd}
                               : std::uint16_t{0x0800};
            break;
        default:
            h.what = link_header::status::unsupported;
            h.description = "link type " + link_type_name(link_type);
            break;
    }
    return h;
}

/// Writes frames to a classic pcap file, link type Ethernet, snapshot length 262144.
///
/// Construction creates (truncates) the file; when `ok()` is false, `error()` says why.
/// `close()` flushes and reports write errors; the destructor closes silently.
class pcap_writer {
public:
    static constexpr int snapshot_len = 262144;

    explicit pcap_writer(const std::string& path) {
        dead_ = pcap_open_dead(DLT_EN10MB, snapshot_len);
        if (dead_ == nullptr) {
            error_ = "pcap_open_dead failed";
            return;
        }
        dumper_ = pcap_dump_open(dead_, path.c_str());
        if (dumper_ == nullptr) {
            error_ = detail::one_line(pcap_geterr(dead_));
            pcap_close(dead_);
            dead_ = nullptr;
        }
    }
    pcap_writer(const pcap_writer&) = delete;
    pcap_writer& operator=(const pcap_writer&) = delete;
    pcap_writer(pcap_writer&& o) noexcept
        : dead_(std::exchange(o.dead_, nullptr)), dumper_(std::exchange(o.dumper_, nullptr)), error_(std::move(o.error_)) {}
    pcap_writer& operator=(pcap_writer&& o) noexcept {
        if (this != &o) {
            static_cast<void>(close());
            dead_ = std::exchange(o.dead_, nullptr);
            dumper_ = std::exchange(o.dumper_, nullptr);
            error_ = std::move(o.error_);
        }
        return *this;
    }
    ~pcap_writer() { static_cast<void>(close()); }

    [[nodiscard]] bool ok() const noexcept { return dumper_ != nullptr && error_.empty(); }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

    /// Appends one frame (captured whole: caplen = len). Frames longer than the snapshot
    /// length are refused. Returns false (and sets error()) when the writer is not ok.
    bool write(std::span<const std::byte> frame, pcap_timestamp ts = {}) {
        if (!ok()) return false;
        if (frame.size() > static_cast<std::size_t>(snapshot_len)) {
            error_ = "frame of " + std::to_string(frame.size()) + " bytes exceeds the snapshot length";
            return false;
        }
        pcap_pkthdr header{};
        header.ts.tv_sec = static_cast<decltype(header.ts.tv_sec)>(ts.sec);
        header.ts.tv_usec = static_cast<decltype(header.ts.tv_usec)>(ts.usec);
        header.caplen = static_cast<bpf_u_int32>(frame.size());
        header.len = static_cast<bpf_u_int32>(frame.size());
        pcap_dump(reinterpret_cast<u_char*>(dumper_), &header, reinterpret_cast<const u_char*>(frame.data()));
        return true;
    }

    /// Flushes and closes the file. Returns false (and sets error()) when writing failed.
    bool close() {
        bool good = error_.empty();
        if (dumper_ != nullptr) {
            if (pcap_dump_flush(dumper_) != 0) {
                if (good) error_ = "write error while flushing the capture file";
                good = false;
            }
            pcap_dump_close(dumper_);
            dumper_ = nullptr;
        }
        if (dead_ != nullptr) pcap_close(dead_);
        dead_ = nullptr;
        return good;
    }

private:
    pcap_t* dead_{nullptr};
    pcap_dumper_t* dumper_{nullptr};
    std::string error_;
};

}  // namespace example
