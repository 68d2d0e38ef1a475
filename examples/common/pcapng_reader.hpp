/// @file examples/common/pcapng_reader.hpp
/// @brief A small, bounds-checked pcapng reader for the files libpcap 1.10 refuses: those whose
/// interfaces differ in link type or snapshot length (pcap_file.hpp says why it exists).
///
/// It reads a file block by block (the IETF draft
/// draft-ietf-opsawg-pcapng describes the format): section headers (either byte order, several sections per
/// file), interface descriptions (link type, snapshot length, and the if_tsresol / if_tsoffset
/// options that timestamps need), enhanced, simple and obsolete packet blocks; every other
/// block is skipped whole. Every length taken from the file is checked against the block that
/// holds it before it is used; a block is read whole into one buffer (at most max_block_len
/// bytes), so no field is read outside it. Malformed input ends the file with one-line error
/// text, never with a crash. No libpcap: tests/fuzz/pcapng_reader.fuzz.cpp fuzzes it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace example::pcapng {

/// The first four bytes of every pcapng file: a section header block's type.
inline constexpr std::uint32_t section_header_type = 0x0A0D0D0Au;
/// The largest block accepted (libpcap's own bound): larger ones are malformed or hostile.
inline constexpr std::uint32_t max_block_len = 16u * 1024u * 1024u;

/// What an interface description block said.
struct interface_info {
    std::uint16_t link_type{0};  ///< a LINKTYPE_ value (1 = Ethernet)
    std::uint32_t snaplen{0};    ///< 0 = no limit
    std::uint64_t units_per_second{1'000'000};  ///< if_tsresol (default: microseconds)
    std::int64_t ts_offset{0};                  ///< if_tsoffset, seconds added to every timestamp
};

/// One packet. `bytes` stays valid until the next call of next().
struct packet {
    std::span<const std::byte> bytes;
    std::uint32_t original_len{0};
    std::int64_t sec{0};
    std::uint32_t usec{0};
    std::uint16_t link_type{0};
    std::uint32_t interface_id{0};
};

/// Reads blocks from a FILE it does not own. With `skip_packets`, packet blocks are stepped
/// over (fseek) rather than read: that is the pre-scan that collects the interfaces.
class block_reader {
public:
    enum class step { packet, end, error };

    explicit block_reader(std::FILE* f, bool skip_packets = false) : f_(f), skip_packets_(skip_packets) {}

    /// Reads up to and including the next packet block. `packet` when `out` holds one; `end` at
    /// the clean end of the file; `error` (then error() says why) for anything malformed.
    step next(packet& out) {
        if (!error_.empty()) return step::error;
        for (;;) {
            const std::uint64_t at = offset_;
            std::byte head[8];
            const std::size_t got = read(head, sizeof head);
            if (got == 0 && std::feof(f_) != 0) return at == 0 ? fail("empty file") : step::end;
            if (got != sizeof head) return fail("cut short in the block header at byte " + std::to_string(at));
            const std::uint32_t type_raw = load32_native(head);
            const bool shb = type_raw == section_header_type;  // the same in either byte order
            std::uint32_t prefix = 8;                          // bytes of the block already read
            if (shb) {
                std::byte magic[4];
                if (read(magic, sizeof magic) != sizeof magic)
                    return fail("cut short in the section header at byte " + std::to_string(at));
                prefix = 12;
                const std::uint32_t m = load32_native(magic);
                if (m == 0x1A2B3C4Du) swapped_ = false;
                else if (m == 0x4D3C2B1Au) swapped_ = true;
                else return fail("section header at byte " + std::to_string(at) + " has no byte-order magic");
                in_section_ = true;
                interfaces_.clear();  // interface ids count from 0 again in every section
            } else if (!in_section_) {
                return fail("not a pcapng file: no section header block first");
            }
            const std::uint32_t type = fix(type_raw);
            const std::uint32_t len = fix(load32_native(head + 4));
            // The smallest section header: header, magic, version, section length, trailer.
            const std::uint32_t min_len = shb ? 28u : 12u;
            if (len < min_len || len % 4 != 0 || len > max_block_len)
                return fail("block at byte " + std::to_string(at) + " has an invalid length " + std::to_string(len));
            const std::uint32_t body_len = len - prefix - 4;  // between what was read and the trailer
            const bool is_packet = type == 2 || type == 3 || type == 6;
            if (is_packet && skip_packets_) {
                if (std::fseek(f_, static_cast<long>(body_len), SEEK_CUR) != 0)
                    return fail("cannot seek over the block at byte " + std::to_string(at));
                offset_ += body_len;
                body_.clear();
            } else {
                body_.resize(body_len);
                if (read(body_.data(), body_len) != body_len)
                    return fail("cut short inside the block at byte " + std::to_string(at) + " (" +
                                std::to_string(len) + " bytes long)");
            }
            std::byte trailer[4];
            if (read(trailer, sizeof trailer) != sizeof trailer)
                return fail("cut short inside the block at byte " + std::to_string(at) + " (" + std::to_string(len) +
                            " bytes long)");
            if (fix(load32_native(trailer)) != len)
                return fail("block at byte " + std::to_string(at) + ": its trailing length differs from its leading one");

            const std::span<const std::byte> body(body_);
            if (shb) {
                // body: major, minor, section length (the magic was read already).
                const std::uint16_t major = u16(body, 0);
                if (major != 1)
                    return fail("unsupported pcapng version " + std::to_string(major) + "." + std::to_string(u16(body, 2)));
            } else if (type == 1) {
                if (!add_interface(body, at)) return step::error;
            } else if (is_packet) {
                if (skip_packets_) continue;
                if (!fill_packet(type, body, at, out)) return step::error;
                return step::packet;
            }
            // Name resolution, statistics, decryption secrets, custom blocks...: not needed.
        }
    }

    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    /// The interfaces of the current section: a packet's interface_id indexes these.
    [[nodiscard]] const std::vector<interface_info>& section_interfaces() const noexcept { return interfaces_; }
    /// Every interface described so far, in every section, in file order.
    [[nodiscard]] const std::vector<interface_info>& all_interfaces() const noexcept { return all_interfaces_; }

private:
    step fail(std::string why) {
        error_ = std::move(why);
        return step::error;
    }
    bool reject(std::string why) {
        error_ = std::move(why);
        return false;
    }

    std::size_t read(void* to, std::size_t n) {
        const std::size_t got = n == 0 ? 0 : std::fread(to, 1, n, f_);
        offset_ += got;
        return got;
    }

    static std::uint32_t load32_native(const std::byte* p) noexcept {
        std::uint32_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    [[nodiscard]] std::uint32_t fix(std::uint32_t v) const noexcept { return swapped_ ? __builtin_bswap32(v) : v; }
    // Field readers: callers check `at + size <= body.size()` first.
    [[nodiscard]] std::uint16_t u16(std::span<const std::byte> b, std::size_t at) const noexcept {
        std::uint16_t v;
        std::memcpy(&v, b.data() + at, sizeof v);
        return swapped_ ? __builtin_bswap16(v) : v;
    }
    [[nodiscard]] std::uint32_t u32(std::span<const std::byte> b, std::size_t at) const noexcept {
        return fix(load32_native(b.data() + at));
    }
    [[nodiscard]] std::uint64_t u64(std::span<const std::byte> b, std::size_t at) const noexcept {
        std::uint64_t v;
        std::memcpy(&v, b.data() + at, sizeof v);
        return swapped_ ? __builtin_bswap64(v) : v;
    }

    /// An interface description: link type, reserved, snapshot length, then options.
    bool add_interface(std::span<const std::byte> body, std::uint64_t at) {
        if (body.size() < 8) return reject("interface description at byte " + std::to_string(at) + " is too short");
        interface_info i;
        i.link_type = u16(body, 0);
        i.snaplen = u32(body, 4);
        std::size_t o = 8;
        while (o + 4 <= body.size()) {
            const std::uint16_t code = u16(body, o);
            const std::uint16_t olen = u16(body, o + 2);
            if (code == 0) break;  // opt_endofopt
            if (olen > body.size() - o - 4)
                return reject("an option of the interface description at byte " + std::to_string(at) +
                            " runs past its block");
            const std::size_t value = o + 4;
            if (code == 9 && olen >= 1) {  // if_tsresol: 10^-n, or 2^-n when the top bit is set
                const auto r = std::to_integer<unsigned>(body[value]);
                const unsigned exponent = r & 0x7fu;
                if ((r & 0x80u) != 0 ? exponent > 63 : exponent > 19)
                    return reject("interface description at byte " + std::to_string(at) +
                                ": timestamp resolution too fine for 64 bits");
                std::uint64_t units = 1;
                for (unsigned k = 0; k < exponent; ++k) units *= (r & 0x80u) != 0 ? 2u : 10u;
                i.units_per_second = units;
            } else if (code == 14 && olen >= 8) {  // if_tsoffset
                i.ts_offset = static_cast<std::int64_t>(u64(body, value));
            }
            o = value + ((std::size_t{olen} + 3) & ~std::size_t{3});
        }
        interfaces_.push_back(i);
        all_interfaces_.push_back(i);
        return true;
    }

    /// Enhanced (6), simple (3) and obsolete (2) packet blocks.
    bool fill_packet(std::uint32_t type, std::span<const std::byte> body, std::uint64_t at, packet& out) {
        std::uint32_t iface = 0, caplen = 0, origlen = 0;
        std::uint64_t ts = 0;
        std::size_t data = 0;
        if (type == 3) {
            if (body.size() < 4) return bad_block(at);
            origlen = u32(body, 0);
            data = 4;
            // The captured length is implicit: the original length, cut to the snapshot length
            // of interface 0 and to the block (which also holds padding).
            caplen = origlen;
            if (!interfaces_.empty() && interfaces_[0].snaplen != 0 && caplen > interfaces_[0].snaplen)
                caplen = interfaces_[0].snaplen;
            if (caplen > body.size() - 4) caplen = static_cast<std::uint32_t>(body.size() - 4);
        } else {
            if (body.size() < 20) return bad_block(at);
            iface = type == 6 ? u32(body, 0) : u16(body, 0);
            ts = std::uint64_t{u32(body, 4)} << 32 | u32(body, 8);
            caplen = u32(body, 12);
            origlen = u32(body, 16);
            data = 20;
            if (caplen > body.size() - 20)
                return reject("packet block at byte " + std::to_string(at) + ": captured length " + std::to_string(caplen) +
                            " runs past its block");
        }
        if (iface >= interfaces_.size())
            return reject("packet block at byte " + std::to_string(at) + " names interface " + std::to_string(iface) +
                        ", but the section describes " + std::to_string(interfaces_.size()));
        const interface_info& i = interfaces_[iface];
        out.bytes = body.subspan(data, caplen);
        out.original_len = origlen;
        out.link_type = i.link_type;
        out.interface_id = iface;
        const std::uint64_t whole = ts / i.units_per_second;
        const std::uint64_t frac = ts % i.units_per_second;
        // frac * 10^6 / units without overflow: exact while the product fits, else in double
        // (a resolution finer than 2^-44 s), clamped below one second.
        std::uint64_t usec = 0;
        if (frac <= UINT64_MAX / 1'000'000u) usec = frac * 1'000'000u / i.units_per_second;
        else usec = static_cast<std::uint64_t>(static_cast<double>(frac) / static_cast<double>(i.units_per_second) * 1e6);
        if (usec > 999'999u) usec = 999'999u;
        // Wrapping (unsigned) addition: a hostile offset must not be signed overflow.
        out.sec = static_cast<std::int64_t>(whole + static_cast<std::uint64_t>(i.ts_offset));
        out.usec = static_cast<std::uint32_t>(usec);
        return true;
    }

    bool bad_block(std::uint64_t at) {
        return reject("packet block at byte " + std::to_string(at) + " is too short");
    }

    std::FILE* f_;
    bool skip_packets_;
    bool swapped_{false};
    bool in_section_{false};
    std::uint64_t offset_{0};
    std::vector<std::byte> body_;
    std::vector<interface_info> interfaces_;      // of the current section: packets name them by index
    std::vector<interface_info> all_interfaces_;  // of the whole file so far
    std::string error_;
};

/// What the pre-scan of a pcapng file found: every interface of every section (as far as the
/// file is well formed), and whether they all agree on link type and snapshot length, which
/// libpcap 1.10 needs.
struct scan_result {
    std::vector<interface_info> interfaces;
    [[nodiscard]] bool interfaces_agree() const noexcept {
        for (const interface_info& i : interfaces)
            if (i.link_type != interfaces.front().link_type || i.snaplen != interfaces.front().snaplen) return false;
        return true;
    }
};

/// Walks the blocks of a seekable file, reading only section headers and interface
/// descriptions (packet blocks are stepped over). Stops quietly at the first malformed block:
/// the real read reports it.
inline scan_result scan(std::FILE* f) {
    block_reader blocks(f, /*skip_packets=*/true);
    packet unused;
    static_cast<void>(blocks.next(unused));  // with skip_packets, one call walks to the end
    return scan_result{blocks.all_interfaces()};
}

}  // namespace example::pcapng
