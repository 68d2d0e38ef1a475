/// @file examples/common/pcap_file.hpp
/// @brief Reading and writing capture files through libpcap, for the examples: RAII, no
/// exceptions, errors as one-line messages.
///
/// `pcap_reader` opens pcap and pcapng files (pcap_open_offline) whose link type is Ethernet
/// (DLT_EN10MB); `pcap_writer` writes classic pcap files with link type Ethernet. Frames are
/// byte spans without FCS, as the library expects. This is example code, not part of the
/// library: the library itself never does I/O.
#pragma once

#include <pcap/pcap.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

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
};

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

/// Reads the frames of a pcap or pcapng file with link type Ethernet.
///
/// Construction opens the file; when `ok()` is false, `error()` says why in one line, e.g.
/// "unknown file format" or "unsupported link type 12 (RAW), expected Ethernet (1)".
class pcap_reader {
public:
    explicit pcap_reader(const std::string& path) {
        char errbuf[PCAP_ERRBUF_SIZE] = {};
        handle_ = pcap_open_offline(path.c_str(), errbuf);
        if (handle_ == nullptr) {
            error_ = detail::one_line(errbuf);
            return;
        }
        const int link = pcap_datalink(handle_);
        if (link != DLT_EN10MB) {
            const char* name = pcap_datalink_val_to_name(link);
            error_ = "unsupported link type " + std::to_string(link) +
                     (name != nullptr ? std::string(" (") + name + ")" : std::string()) + ", expected Ethernet (" +
                     std::to_string(DLT_EN10MB) + ")";
            close();
        }
    }
    pcap_reader(const pcap_reader&) = delete;
    pcap_reader& operator=(const pcap_reader&) = delete;
    pcap_reader(pcap_reader&& o) noexcept : handle_(std::exchange(o.handle_, nullptr)), error_(std::move(o.error_)) {}
    pcap_reader& operator=(pcap_reader&& o) noexcept {
        if (this != &o) {
            close();
            handle_ = std::exchange(o.handle_, nullptr);
            error_ = std::move(o.error_);
        }
        return *this;
    }
    ~pcap_reader() { close(); }

    /// True while the file is open and no error happened.
    [[nodiscard]] bool ok() const noexcept { return handle_ != nullptr && error_.empty(); }
    /// Why opening or the last read failed; empty when nothing failed.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

    /// Reads the next frame into `out`. Returns false at the end of the file, or on an error
    /// (then `error()` is not empty, e.g. for a file cut short in the middle of a record).
    /// The bytes of `out` stay valid until the next call.
    bool next(pcap_frame& out) {
        if (!ok()) return false;
        pcap_pkthdr* header = nullptr;
        const u_char* data = nullptr;
        const int rc = pcap_next_ex(handle_, &header, &data);
        if (rc == 1) {
            // caplen never exceeds the snapshot length libpcap allocated for the record.
            out.bytes = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), header->caplen);
            out.original_len = header->len;
            out.ts = pcap_timestamp{static_cast<std::int64_t>(header->ts.tv_sec), static_cast<std::uint32_t>(header->ts.tv_usec)};
            return true;
        }
        if (rc == PCAP_ERROR_BREAK) return false;  // end of file
        error_ = detail::one_line(pcap_geterr(handle_));
        return false;
    }

private:
    void close() noexcept {
        if (handle_ != nullptr) pcap_close(handle_);
        handle_ = nullptr;
    }

    pcap_t* handle_{nullptr};
    std::string error_;
};

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
